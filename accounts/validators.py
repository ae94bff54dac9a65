from django.core.exceptions import ValidationError


class CharacterVarietyValidator:
    """A password needs at least three kinds of character, or at least 16 characters.

    Long passphrases of plain words are strong; short ones need variety.
    """

    long_enough = 16

    def validate(self, password, user=None):
        if len(password) >= self.long_enough:
            return
        kinds = sum(
            [
                any(c.islower() for c in password),
                any(c.isupper() for c in password),
                any(c.isdigit() for c in password),
                any(not c.isalnum() for c in password),
            ]
        )
        if kinds < 3:
            raise ValidationError(
                "Use at least three of: lower-case letters, upper-case letters, digits, symbols "
                f"— or a passphrase of {self.long_enough} characters or more.",
                code="password_too_plain",
            )

    def get_help_text(self):
        return (
            "Your password needs three kinds of character (lower case, upper case, digits, symbols), "
            f"or {self.long_enough} characters or more."
        )
