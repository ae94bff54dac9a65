"""The Filters pages: form editor, spam threshold, vacation, raw scripts.

Thin views: parse with a form, fetch through a permission helper, call one service,
render or redirect. Rules are fetched only among the member's own (404 otherwise);
scripts are reached only through the member's own ManageSieve session, which holds no
one else's. When Dovecot can not be reached, pages say so (503) and forms come back
with everything the member typed.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import require_sudo_mode, sudo_redirect
from duckmail.lib import managesieve
from duckmail.lib.errors import BackendUnavailable

from . import sieve
from .forms import OptionsForm, ScriptForm, UploadForm, VacationForm, clean_rule, rule_forms
from .models import Rule
from .services import editor, scripts

MAX_ROWS = 20
DOWN_MESSAGE = (
    "The mail server can not be reached right now, so nothing was saved. "
    "Your changes are still in this form: please try again in a moment."
)


def own_rule(member, rule_id: int) -> Rule:
    """The member's own rule with that id, or 404: never another member's."""
    return get_object_or_404(Rule, member=member, pk=rule_id, kind=Rule.Kind.RULE)


def _unavailable(request):
    return render(request, "filters/unavailable.html", status=503)


def _script_error_text(exc: managesieve.ScriptInvalid) -> str:
    return "The server refused the script: " + "; ".join(exc.errors if exc.line else [str(exc)])


def _no_longer_active(replaced: str | None) -> str:
    """The end of a success message when saving the editor's script replaced a hand-written one."""
    return f" “{replaced}” is no longer active." if replaced else ""


def _hand_written_or_none(member) -> str | None:
    """The active hand-written script, for a warning; None also when Dovecot can not be
    reached (the save then fails with its own message)."""
    try:
        return editor.active_hand_written_script(member)
    except BackendUnavailable:
        return None


def _index(request, status: int = 200, **forms):
    member = request.user
    try:
        state = editor.overview(member)
    except (BackendUnavailable, managesieve.SieveRefused):
        # SieveRefused: a script vanished between listing and reading it (another client).
        return _unavailable(request)
    fs = editor.settings_for(member)
    context = {
        "rules": Rule.objects.filter(member=member).exclude(kind=Rule.Kind.REQUIRE),
        "fs": fs,
        "vacation_state": fs.vacation_state(),
        "state": state,
        "editor_script": editor.EDITOR_SCRIPT,
        "default_name": managesieve.DEFAULT_SCRIPT_NAME,
        "options_form": forms.get("options_form")
        or OptionsForm(initial={"includes": fs.includes, "spam_threshold": fs.spam_threshold}),
        "upload_form": forms.get("upload_form") or UploadForm(),
    }
    return render(request, "filters/index.html", context, status=status)


@login_required
@require_GET
def index(request):
    return _index(request)


@login_required
def rule_edit(request, rule_id: int | None = None):
    rule = own_rule(request.user, rule_id) if rule_id is not None else None
    status = 200
    try:
        folders = editor.member_folders(request.user)
        down = False
    except BackendUnavailable:
        if request.method != "POST":
            return _unavailable(request)
        # Keep what was typed: offer back the folders the form had.
        folders = sorted({v for k, v in request.POST.items() if k.endswith("-folder") and v})
        down = True
    more = request.method == "POST" and ("add_condition" in request.POST or "add_action" in request.POST)
    if more:
        # "Add a condition/action": the same form again with one more empty row; nothing saved.
        data = request.POST.copy()
        key = "cond-TOTAL_FORMS" if "add_condition" in data else "act-TOTAL_FORMS"
        count = data.get(key) or "0"
        data[key] = str(min((int(count) if count.isascii() and count.isdigit() else 0) + 1, MAX_ROWS))
        form, cond_fs, act_fs = rule_forms(data, rule=rule, folders=folders)
        context = {"rule": rule, "form": form, "cond_fs": cond_fs, "act_fs": act_fs}
        return render(request, "filters/rule_form.html", context)
    form, cond_fs, act_fs = rule_forms(request.POST if request.method == "POST" else None, rule=rule, folders=folders)
    if request.method == "POST":
        status = 400
        if down:
            form.is_valid()
            form.add_error(None, DOWN_MESSAGE)
            status = 503
        else:
            data = clean_rule(form, cond_fs, act_fs)
            if data is not None and (_forwards(data["actions"]) or _sudo_if_dormant_forwarding_wakes(request)):
                # Forwarding mail elsewhere is what a stolen session would do first: like
                # adding a redirection, it needs a recently typed password.
                if (confirm := sudo_redirect(request)) is not None:
                    messages.warning(request, "Forwarding mail to another address needs your password. "
                                              "Confirm it's you, then save the rule again.")
                    return confirm
            if data is not None:
                try:
                    editor.save_rule(request.user, rule, **data)
                except ValidationError as exc:
                    _place_rule_error(form, cond_fs, exc)
                except BackendUnavailable:
                    form.add_error(None, DOWN_MESSAGE)
                    status = 503
                else:
                    messages.success(request, f"Rule “{data['name']}” saved and active.")
                    return redirect("filters:index")
    context = {"rule": rule, "form": form, "cond_fs": cond_fs, "act_fs": act_fs}
    return render(request, "filters/rule_form.html", context, status=status)


def _place_rule_error(form, cond_fs, exc: ValidationError) -> None:
    """Show the server's refusal next to the value it is about (e.g. a regular expression
    Dovecot can not compile), else at the top of the form."""
    message = exc.messages[0]
    for f in cond_fs.forms:
        value = f.cleaned_data.get("value") if f.is_valid() else None
        if value and f"'{value}'" in message:
            f.add_error("value", message)
            return
    form.add_error(None, exc)


def _rule_change(request, change, done: str):
    if (confirm := _sudo_if_dormant_forwarding_wakes(request)) is not None:
        return confirm
    try:
        change()
    except managesieve.ScriptInvalid as exc:
        messages.error(request, _script_error_text(exc))
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    except BackendUnavailable:
        messages.error(request, "The mail server can not be reached right now, so nothing was changed.")
    else:
        messages.success(request, done)
    return redirect("filters:index")


def _forwards(actions: list[dict]) -> bool:
    return any(str(a.get("kind", "")).startswith("redirect") for a in actions)


def _sudo_if_dormant_forwarding_wakes(request) -> HttpResponse | None:
    """Sudo mode when saving would make the editor's script active again over a hand-written
    one while the editor holds enabled forwarding rules: they would start forwarding."""
    member = request.user
    rows = Rule.objects.filter(member=member, enabled=True).only("actions", "kind", "original")
    # Raw blocks of a script opened in the form editor may forward too.
    if not any(_forwards(r.actions) or (r.kind == Rule.Kind.RAW and "redirect" in r.original) for r in rows):
        return None
    if _hand_written_or_none(member) is None:
        return None
    return sudo_redirect(request)


@login_required
@require_POST
def rule_toggle(request, rule_id: int):
    rule = own_rule(request.user, rule_id)
    enable = not rule.enabled
    if enable and _forwards(rule.actions) and (confirm := sudo_redirect(request)) is not None:
        return confirm
    return _rule_change(request, lambda: editor.set_rule_enabled(rule, enable),
                        f"Rule “{rule.name}” {'enabled' if enable else 'disabled'}.")


@login_required
@require_POST
def rule_delete(request, rule_id: int):
    rule = own_rule(request.user, rule_id)
    return _rule_change(request, lambda: editor.delete_rule(rule), f"Rule “{rule.name}” deleted.")


@login_required
@require_POST
def rule_move(request, rule_id: int, direction: str):
    if direction not in ("up", "down"):
        raise Http404("No such direction")
    rule = own_rule(request.user, rule_id)
    offset = -1 if direction == "up" else 1
    return _rule_change(request, lambda: editor.move_rule(rule, offset), f"Rule “{rule.name}” moved {direction}.")


@login_required
@require_POST
def options(request):
    if (confirm := _sudo_if_dormant_forwarding_wakes(request)) is not None:
        return confirm
    form = OptionsForm(request.POST)
    if form.is_valid():
        try:
            replaced = editor.save_options(
                request.user, includes=form.cleaned_data["includes"], spam_threshold=form.cleaned_data["spam_threshold"]
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        except BackendUnavailable:
            return render(request, "filters/unavailable.html", {"form": form}, status=503)
        else:
            messages.success(request, "Spam settings saved and active." + _no_longer_active(replaced))
            return redirect("filters:index")
    return _index(request, status=400, options_form=form)


@login_required
def vacation(request):
    member = request.user
    fs = editor.settings_for(member)
    addresses = editor.member_addresses(member)
    initial = {
        "enabled": fs.vacation_enabled, "subject": fs.vacation_subject or "Out of office", "body": fs.vacation_body,
        "addresses": fs.vacation_addresses or addresses, "days": fs.vacation_days,
        "start": fs.vacation_start, "end": fs.vacation_end,
    }
    form = VacationForm(request.POST or None, initial=initial, addresses=addresses)
    status = 200
    if request.method == "POST" and (confirm := _sudo_if_dormant_forwarding_wakes(request)) is not None:
        return confirm
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                replaced = editor.save_vacation(member, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            except BackendUnavailable:
                form.add_error(None, DOWN_MESSAGE)
                status = 503
            else:
                messages.success(request, _vacation_saved(editor.settings_for(member)) + _no_longer_active(replaced))
                return redirect("filters:index")
    context = {"form": form, "hand_written": _hand_written_or_none(member)}
    return render(request, "filters/vacation.html", context, status=status)


def _vacation_saved(fs) -> str:
    state = fs.vacation_state()
    if state == "scheduled":
        return f"Automatic reply is scheduled from {date_format(fs.vacation_start, 'j M Y')}."
    if state == "ended":
        return f"Automatic reply is saved, but its end date ({date_format(fs.vacation_end, 'j M Y')}) has passed."
    return "Automatic reply is on." if state == "on" else "Automatic reply is off."


@login_required
@require_POST
def editor_import(request):
    if (confirm := _sudo_if_dormant_forwarding_wakes(request)) is not None:
        return confirm
    try:
        editor.import_editor_script(request.user)
    except sieve.NotRepresentable:
        messages.error(request, "The form editor can not show this script; edit it in the raw editor.")
        return redirect("filters:script_edit", name=editor.EDITOR_SCRIPT)
    except (BackendUnavailable, managesieve.SieveRefused):
        messages.error(request, "The mail server can not be reached right now, so nothing was loaded.")
        return redirect("filters:index")
    messages.success(request, "The script on the server is now in the form editor.")
    return redirect("filters:index")


@login_required
@require_POST
@require_sudo_mode
def script_open(request, name: str):
    """Open a script in the form editor. Sudo mode: saving a rule then makes that script
    active, and a hand-written script can forward mail anywhere."""
    try:
        items = editor.open_script(request.user, name)
    except managesieve.SieveRefused:
        raise Http404("No such script")
    except BackendUnavailable:
        return _unavailable(request)
    rules = sum(i.kind == "rule" for i in items)
    raw = sum(i.kind == "raw" and bool(i.text.strip()) for i in items)
    messages.success(request, f"“{name}” is open in the form editor: {rules} rule{'s' if rules != 1 else ''}"
                              + (f", and {raw} part{'s' if raw != 1 else ''} kept as written" if raw else "") + ".")
    return redirect("filters:index")


@login_required
@require_POST
def script_close(request):
    try:
        editor.close_script(request.user)
    except (BackendUnavailable, managesieve.SieveRefused):
        return _unavailable(request)
    messages.success(request, "The form editor shows its own script again.")
    return redirect("filters:index")


# Raw scripts -------------------------------------------------------------------------


def _save_raw(request, form):
    """Save a valid ScriptForm; return a response, or None with errors added to the form."""
    name, text, activate = form.cleaned_data["name"], form.cleaned_data["text"], form.cleaned_data["activate"]
    try:
        warnings = scripts.save_script(request.user, name, text, activate=activate)
    except managesieve.ScriptInvalid as exc:
        form.add_error("text", _script_error_text(exc))
        if exc.line:
            # filters.js puts the cursor on that line; the page also quotes it.
            form.fields["text"].widget.attrs["data-error-line"] = str(exc.line)
        return None
    except (ValidationError, managesieve.SieveRefused) as exc:
        form.add_error(None, str(exc) if not isinstance(exc, ValidationError) else exc.messages[0])
        return None
    for w in warnings:
        messages.warning(request, f"Server warning: {w}")
    problem = scripts.sievelib_problem(text)
    if problem:
        messages.info(request, f"Saved. Note: the web editor's Sieve reader can not read this script ({problem}); "
                               "the server accepted it, so it works, and you can keep editing it here as text.")
    else:
        messages.success(request, f"Script “{name}” saved{' and active' if activate else ''}.")
    return redirect("filters:script_edit", name=name)


def _excerpt(text: str, line: int, around: int = 2) -> list[tuple[int, str, bool]]:
    """The lines around `line` (1-based) as (number, text, is_the_line), for an error."""
    lines = text.replace("\r\n", "\n").split("\n")
    first, last = max(1, line - around), min(len(lines), line + around)
    return [(n, lines[n - 1], n == line) for n in range(first, last + 1)]


@login_required
def script_edit(request, name: str | None = None):
    # A hand-written script can do anything, forwarding included: saving one needs sudo mode.
    if request.method == "POST" and (confirm := sudo_redirect(request)) is not None:
        return confirm
    member = request.user
    status = 200
    active: bool | None = None  # None: not known (new script, or Dovecot unreachable)
    if request.method == "POST":
        form = ScriptForm(request.POST)
        status = 400
        if form.is_valid():
            try:
                response = _save_raw(request, form)
            except BackendUnavailable:
                form.add_error(None, DOWN_MESSAGE)
                status = 503
            else:
                if response is not None:
                    return response
    else:
        text = ""
        active = False
        if name is not None:
            try:
                listing = scripts.list_scripts(member)
                text = scripts.get_script(member, name) if name in listing.names else None
            except BackendUnavailable:
                return _unavailable(request)
            if text is None:
                raise Http404("No such script")
            active = listing.active == name
        form = ScriptForm(initial={"name": name or "", "text": text, "activate": active,
                                  "line_endings": ScriptForm.line_endings_of(text)})
    if request.method == "POST" and name is not None and status != 503:
        try:
            active = scripts.list_scripts(member).active == name
        except BackendUnavailable:
            active = None
    note = "editor" if name == editor.EDITOR_SCRIPT else ""
    text = form["text"].value() or ""
    error_line = int(form.fields["text"].widget.attrs.get("data-error-line", 0))
    context = {
        "form": form, "name": name, "note": note, "active": active,
        "sievelib_problem": scripts.sievelib_problem(text) if text else "",
        "error_line": error_line, "excerpt": _excerpt(text, error_line) if error_line else [],
    }
    return render(request, "filters/script_form.html", context, status=status)


@login_required
@require_GET
def script_download(request, name: str):
    try:
        text = scripts.get_script(request.user, name)
    except BackendUnavailable:
        return _unavailable(request)
    if text is None:
        raise Http404("No such script")
    response = HttpResponse(text, content_type="application/sieve; charset=utf-8")
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)
    response["Content-Disposition"] = f'attachment; filename="{safe}.sieve"'
    return response


@login_required
@require_POST
@require_sudo_mode
def script_upload(request):
    form = UploadForm(request.POST, request.FILES)
    if form.is_valid():
        name = form.cleaned_data["name"]
        try:
            scripts.save_script(request.user, name, form.cleaned_data["text"], activate=form.cleaned_data["activate"])
        except managesieve.ScriptInvalid as exc:
            form.add_error("file", _script_error_text(exc))
        except (ValidationError, managesieve.SieveRefused) as exc:
            form.add_error("file", str(exc) if not isinstance(exc, ValidationError) else exc.messages[0])
        except BackendUnavailable:
            return _unavailable(request)
        else:
            messages.success(request, f"Script “{name}” uploaded.")
            return redirect("filters:index")
    return _index(request, status=400, upload_form=form)


@login_required
@require_POST
@require_sudo_mode
def script_activate(request):
    name = request.POST.get("name") or None
    try:
        scripts.activate_script(request.user, name)
    except scripts.ScriptNotFound:
        raise Http404("No such script")
    except managesieve.ScriptInvalid as exc:
        messages.error(request, _script_error_text(exc))
    except (ValidationError, managesieve.SieveRefused) as exc:
        messages.error(request, exc.messages[0] if isinstance(exc, ValidationError) else str(exc))
    except BackendUnavailable:
        return _unavailable(request)
    else:
        messages.success(request, f"“{name}” is now active." if name else "The default rules apply again.")
    return redirect(reverse("filters:index") + "#scripts")


@login_required
@require_POST
def script_delete(request, name: str):
    try:
        scripts.delete_script(request.user, name)
    except scripts.ScriptNotFound:
        raise Http404("No such script")
    except (ValidationError, managesieve.SieveRefused) as exc:
        messages.error(request, exc.messages[0] if isinstance(exc, ValidationError) else str(exc))
    except BackendUnavailable:
        return _unavailable(request)
    else:
        messages.success(request, f"Script “{name}” deleted.")
    return redirect(reverse("filters:index") + "#scripts")
