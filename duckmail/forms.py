"""What every form of the site shares."""


class NoSilentTruncation:
    """A form mixin: no `maxlength` on the inputs.

    A browser cuts typed or pasted text at `maxlength` without a word, so a 65-character
    name would quietly become an account under a shorter one. Without it the whole text
    reaches the form, whose max_length validation says what is too long, next to the field.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.pop("maxlength", None)
