"""Forms: validation only. State changes happen in accounts.services."""

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.core.exceptions import ValidationError

from duckmail.forms import NoSilentTruncation

from . import services
from .addresses import display_domain, normalize_domain, normalize_local_part
from .models import Member


class SignupForm(NoSilentTruncation, forms.Form):
    local_part = forms.CharField(
        label="Address",
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none", "autofocus": True}),
    )
    display_name = forms.CharField(label="Your name", max_length=100, required=False)
    password1 = forms.CharField(label="Password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(label="Password again", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.domain = services.service_domain()
        self.fields["local_part"].help_text = f"Your address will be name@{display_domain(self.domain.name)}."
        self.fields["password1"].help_text = password_validation.password_validators_help_text_html()

    def clean_local_part(self):
        # A full address on the service domain is fine too, as in the alias form.
        return services.check_new_local_part(clean_own_local_part(self.cleaned_data["local_part"]), self.domain)

    def clean(self):
        cleaned = super().clean()
        p1, p2 = cleaned.get("password1"), cleaned.get("password2")
        if p1:
            local_part = cleaned.get("local_part") or self.data.get("local_part", "")
            candidate = Member(email=f"{local_part}@{self.domain.name}", display_name=cleaned.get("display_name", ""))
            try:
                password_validation.validate_password(p1, candidate)
            except ValidationError as exc:
                self.add_error("password1", exc)
        if p1 and p2 and p1 != p2:
            self.add_error("password2", "The two passwords differ.")
        return cleaned


def normalize_login(username: str) -> str:
    """The login as the database has it: lower case, and members may type just their name."""
    username = username.strip().lower()
    if username and "@" not in username:
        username = f"{username}@{settings.SERVICE_DOMAIN}"
    return username


class LoginForm(NoSilentTruncation, AuthenticationForm):
    username = forms.CharField(
        label="Address",
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username", "autocapitalize": "none"}),
    )

    # The address is not case-sensitive (it is lower-cased above), and the answer must not
    # tell whether the address exists: the same words for both.
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That address and password do not match.",
    }

    def clean_username(self):
        return normalize_login(self.cleaned_data["username"])


def clean_own_local_part(value: str) -> str:
    """A name on the service domain; a pasted full address on that domain is fine too."""
    value = value.strip()
    if "@" in value:
        local, _, domain = value.rpartition("@")
        try:
            same = normalize_domain(domain) == normalize_domain(settings.SERVICE_DOMAIN)
        except ValidationError:
            same = False
        if not same:
            raise ValidationError(f"Only addresses on {display_domain(settings.SERVICE_DOMAIN)} can be added here.")
        value = local
    return normalize_local_part(value)


class LocalPartForm(NoSilentTruncation, forms.Form):
    local_part = forms.CharField(label="New alias", max_length=300)

    def clean_local_part(self):
        return clean_own_local_part(self.cleaned_data["local_part"])


class RedirectionForm(NoSilentTruncation, forms.Form):
    local_part = forms.CharField(label="Address", max_length=300)
    targets = forms.CharField(
        label="Forward to",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One or more addresses, one per line or separated by commas.",
    )
    keep_copy = forms.BooleanField(label="Keep a copy in my mailbox", required=False)

    def clean_local_part(self):
        return clean_own_local_part(self.cleaned_data["local_part"])

    def clean_targets(self):
        return services.parse_targets(self.cleaned_data["targets"])


class RedirectionEditForm(RedirectionForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["local_part"]


class QuotaRequestForm(NoSilentTruncation, forms.Form):
    requested_mb = forms.IntegerField(label="Quota wanted (MB)", min_value=1, max_value=1024 * 1024)
    reason = forms.CharField(label="Why", max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, member: Member, **kwargs):
        super().__init__(*args, **kwargs)
        self.member = member

    def clean_requested_mb(self):
        value = self.cleaned_data["requested_mb"]
        if value <= self.member.quota_mb:
            raise ValidationError(f"Ask for more than your current {self.member.quota_mb} MB.")
        return value


class MemberPasswordChangeForm(PasswordChangeForm):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # A tab of the Settings page: no keyboard popping up on a phone just for looking.
        self.fields["old_password"].widget.attrs.pop("autofocus", None)


class CodeForm(NoSilentTruncation, forms.Form):
    """A six-digit code from the phone app (or, where allowed, a recovery code)."""

    code = forms.CharField(
        label="Code",
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                      "autocapitalize": "none", "spellcheck": "false"}),
    )

    def __init__(self, *args, allow_recovery: bool = True, label: str = "Code", autofocus: bool = False,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].label = label
        if autofocus:
            # Only on pages whose one job is this code (the login step): elsewhere focusing
            # it would open the phone's keyboard on every visit.
            self.fields["code"].widget.attrs["autofocus"] = True
        if allow_recovery:
            self.fields["code"].help_text = "The 6-digit code from your app, or one of your recovery codes."
        else:
            self.fields["code"].help_text = "The 6-digit code your app shows now."

    def clean_code(self):
        code = " ".join(self.cleaned_data["code"].split())
        if not code:
            raise ValidationError("Type the code.")
        return code


class SudoForm(NoSilentTruncation, forms.Form):
    password = forms.CharField(
        label="Password", strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )

    def __init__(self, *args, two_factor: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if two_factor:
            # A stolen session plus a phished password must not be enough to, e.g., create
            # an app password (which skips 2FA for mail): ask for a code too.
            self.fields["code"] = forms.CharField(
                label="Code", max_length=32, help_text="The 6-digit code from your app, or a recovery code.",
                widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                              "autocapitalize": "none", "spellcheck": "false"}),
            )


NAME_NEEDED = "Give the app password a name, e.g. “Phone”."


class AppPasswordForm(NoSilentTruncation, forms.Form):
    name = forms.CharField(
        label="Name", max_length=60,
        help_text="Where you will use it, e.g. “Phone” or “Laptop Thunderbird”.",
        # Spaces only are stripped to nothing: the same words as a name of spaces.
        error_messages={"required": NAME_NEEDED},
    )

    def clean_name(self):
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise ValidationError(NAME_NEEDED)
        return name
