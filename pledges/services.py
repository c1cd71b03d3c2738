"""Writes for the catalog and pledges. Each public function is one transaction."""

import base64
import binascii
import hashlib
import io
import re
import uuid

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import id_numbers, roles
from accounts.selectors import authorisation_for, person_by_id_number
from accounts.services import person_get_or_create
from core.audit import audit_record
from core.errors import Conflict, DomainError, NotAllowed
from core.middleware import current_context
from core.prepared import PreparedInsert
from credit.selectors import eligibility_for

from .content import content_hash, freeze
from .models import (
    CertificateChoice,
    Channel,
    Matter,
    Pledge,
    PledgeNumberCounter,
    PledgeStatus,
    PledgeTemplate,
)


class NotEligible(NotAllowed):
    """The person may not pledge now (credit record); says why, until when and how."""

    code = "not_eligible"


# ---- catalog ----------------------------------------------------------------------------


def template_publish(*, template: PledgeTemplate, actor=None) -> PledgeTemplate:
    """Freeze a draft version; it becomes the matter's current template."""
    with transaction.atomic():
        template = PledgeTemplate.objects.select_for_update().get(pk=template.pk)
        if template.status == PledgeTemplate.Status.PUBLISHED:
            return template
        template.status = PledgeTemplate.Status.PUBLISHED
        template.published_at = timezone.now()
        template.save(update_fields=["status", "published_at"])
        audit_record(actor=actor, action="template.published", obj=template)
    return template


def template_new_version(
    *, matter: Matter, notice: list, statements: list, actor=None
) -> PledgeTemplate:
    """Editing a published text makes a new draft version; the old one stays as signed."""
    with transaction.atomic():
        Matter.objects.select_for_update().get(pk=matter.pk)
        last = matter.templates.order_by("-version").first()
        template = PledgeTemplate.objects.create(
            matter=matter,
            version=(last.version + 1) if last else 1,
            notice=notice,
            statements=statements,
        )
        audit_record(actor=actor, action="template.drafted", obj=template)
    return template


def matters_upsert(
    *, new: list[dict], changes: list[tuple[Matter, dict]], actor, reason: str
) -> tuple[list[Matter], int]:
    """Create catalog matters and change existing ones in bulk, each change in the history.

    ``new`` holds field values per matter (``department`` a Unit); ``changes`` pairs a matter
    with the fields that change. Nothing is deleted. Call inside the caller's transaction.
    """
    from simple_history.utils import bulk_create_with_history, bulk_update_with_history

    created = []
    if new:
        bulk_create_with_history(
            [Matter(source=reason, **values) for values in new],
            Matter,
            batch_size=500,
            default_user=actor,
            default_change_reason=reason,
        )
        created = list(
            Matter.objects.filter(code__in=[values["code"] for values in new]).select_related(
                "department"
            )
        )
    fields: set[str] = set()
    for matter, values in changes:
        for key, value in values.items():
            setattr(matter, key, value)
            fields.add(key)
    if changes:
        bulk_update_with_history(
            [matter for matter, _values in changes],
            Matter,
            sorted(fields),
            batch_size=500,
            default_user=actor,
            default_change_reason=reason,
        )
    audit_record(
        actor=actor,
        action="catalog.matters_upserted",
        data={"created": len(created), "changed": len(changes), "reason": reason},
    )
    return created, len(changes)


# ---- pledges ----------------------------------------------------------------------------

_DATA_URI = re.compile(r"^data:image/(png|jpeg);base64,(?P<data>[A-Za-z0-9+/=\s]+)$")


def decode_signature(data_uri: str) -> bytes:
    """Check a drawn signature: a PNG or JPEG data URI, really an image, not too large."""
    match = _DATA_URI.match(data_uri or "")
    if not match:
        raise DomainError(_("The signature must be a PNG or JPEG image."), field="signature")
    try:
        raw = base64.b64decode(match.group("data"), validate=False)
    except (binascii.Error, ValueError) as exc:
        raise DomainError(_("The signature image cannot be read."), field="signature") from exc
    if len(raw) > settings.CHENGNUO_SIGNATURE_MAX_BYTES:
        raise DomainError(_("The signature image is too large."), field="signature")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(raw)) as image:
            if image.format not in ("PNG", "JPEG"):
                raise DomainError(
                    _("The signature must be a PNG or JPEG image."), field="signature"
                )
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DomainError(_("The signature image cannot be read."), field="signature") from exc
    return raw


def _scan_extension(upload) -> str:
    """The scan's real type, read from its first bytes (the name a browser sends may lie)."""
    import filetype

    upload.seek(0)
    kind = filetype.guess(upload.read(262))
    upload.seek(0)
    return kind.extension if kind else "bin"


def _next_number(year: int) -> str:
    """Take the next number of ``year`` (call inside the pledge's transaction, last thing
    before saving it).

    One statement increments the year's counter and keeps its row locked until the pledge
    commits, so concurrent signings queue there; the counter and the pledge commit or roll
    back together, so a failed signing leaves no gap. (One round trip instead of five: the
    row lock is held for as short a time as possible.)
    """
    meta = PledgeNumberCounter._meta
    quote = connection.ops.quote_name
    last = quote(meta.get_field("last").column)
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {last} = {last} + 1 "
        f"WHERE {quote(meta.get_field('year').column)} = %s RETURNING {last}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [year])
        row = cursor.fetchone()
        if row is None:  # the first pledge of the year
            try:
                with transaction.atomic():
                    PledgeNumberCounter.objects.create(year=year, last=0)
            except IntegrityError:
                pass  # another signing created it first
            cursor.execute(sql, [year])
            row = cursor.fetchone()
    return f"CN-{year}-{row[0]:06d}"


_pledge_insert = PreparedInsert(Pledge)


def _names_match(a: str, b: str) -> bool:
    return re.sub(r"\s+", "", a or "") == re.sub(r"\s+", "", b or "")


def pledge_sign(
    *,
    matter: Matter,
    applicant: dict,
    actor,
    statements_accepted: bool,
    typed_name: str,
    signature_image: str | None = None,
    channel: str = Channel.ONLINE,
    paper_scan=None,
    template: PledgeTemplate | None = None,
    template_version: int | None = None,
) -> Pledge:
    """Sign a pledge in place of ``matter``'s certificate.

    ``applicant`` holds ``name``, ``id_number``, ``phone``, ``address`` and optionally
    ``town`` (a Unit). A resident signs only as themselves, online; a window clerk signs for
    anyone at the window (the wet signature confirmed, a scan attached). ``template`` is the
    matter's current template when the caller has just read it (it saves a query).
    ``template_version`` is the version the applicant read; when the current one differs
    (a new text was published meanwhile) the signing is refused: a pledge freezes only a
    text its signer saw.
    """
    is_clerk = roles.has_role(actor, roles.WINDOW_CLERK)
    is_resident = roles.has_role(actor, roles.RESIDENT)
    if channel == Channel.WINDOW and not is_clerk:
        raise NotAllowed(_("Only a window clerk records pledges at the window."), field="channel")
    if channel == Channel.ONLINE and not is_resident:
        raise NotAllowed(_("Only residents sign pledges online."), field="channel")
    if not matter.accepts_pledges:
        if matter.excluded_from_pledge:
            message = _("This matter is excluded from pledges: %(reason)s") % {
                "reason": matter.exclusion_reason or _("see the service guide")
            }
        else:
            message = _("This matter does not accept pledges; the certificate is required.")
        raise DomainError(message, field="matter", code="not_pledgeable")
    if (
        template is None  # the caller may pass the current template it has just read
        or template.matter_id != matter.pk
        or template.status != PledgeTemplate.Status.PUBLISHED
    ):
        template = matter.current_template()
    if template is None:
        raise DomainError(
            _("This matter has no published pledge text yet."), field="matter", code="no_template"
        )
    if template_version is not None and template_version != template.version:
        raise Conflict(
            _(
                "The pledge text changed after you opened it (it is now version %(version)s). "
                "Read it again before signing."
            )
            % {"version": template.version},
            field="template_version",
            code="template_changed",
        )
    if not statements_accepted:
        raise DomainError(
            _("Every statement of the pledge must be accepted."), field="statements_accepted"
        )
    try:
        number = id_numbers.validate(applicant.get("id_number", ""))
    except id_numbers.InvalidIdNumber as exc:
        raise DomainError(str(exc), field="id_number") from exc
    name = (applicant.get("name") or "").strip()
    if not name:
        raise DomainError(_("The applicant's name is required."), field="name")

    agent = None  # an agent (代办) pledging online for the person who authorised them
    if channel == Channel.ONLINE:
        person = actor.person
        if person is None or person.id_hash != id_numbers.keyed_hash(number):
            agent = _agent_for(actor=actor, principal_number=number, matter=matter)
            if agent is None:
                raise NotAllowed(
                    _("You may pledge only for yourself; an agent needs a recorded authorisation."),
                    field="applicant",
                    code="not_self",
                )
            person = agent["principal"]
        registered_name = person.name
    else:
        registered_name = name
        if paper_scan is None and not signature_image:
            raise DomainError(
                _(
                    "Attach the scan of the form signed on paper, or have the applicant draw "
                    "the signature."
                ),
                field="paper_scan",
            )
    if agent is not None:
        # The agent signs with their own name, on the principal's behalf.
        if not _names_match(typed_name, actor.person.name):
            raise DomainError(_("Type your own registered name."), field="typed_name")
    elif not _names_match(typed_name, registered_name):
        raise DomainError(
            _("The typed name must be the applicant's registered name."), field="typed_name"
        )
    signature_bytes = decode_signature(signature_image) if signature_image else None
    if channel == Channel.ONLINE and signature_bytes is None:
        raise DomainError(_("Draw your signature."), field="signature")

    context = current_context()
    with transaction.atomic():
        if channel == Channel.ONLINE:
            person = agent["principal"] if agent else actor.person
        else:
            person = person_get_or_create(
                id_number=number,
                name=name,
                phone=applicant.get("phone", ""),
                address=applicant.get("address", ""),
                town=applicant.get("town"),
            )
        eligibility = eligibility_for(person)
        if not eligibility.eligible:
            raise NotEligible(
                eligibility.reason,
                extra={
                    "until": eligibility.until.isoformat() if eligibility.until else None,
                    "reason": eligibility.reason,
                    "how_to_restore": eligibility.how_to_restore,
                },
            )
        signed_at = timezone.now()
        town = applicant.get("town") or person.town
        phone = applicant.get("phone") or person.phone or ""
        frozen = freeze(
            matter=matter,
            template=template,
            applicant={
                "name": registered_name,
                "id_type": "居民身份证",
                "id_masked": person.id_masked,
                "id_hash": person.id_hash,
                "phone_masked": (phone[:3] + "****" + phone[-4:]) if len(phone) >= 7 else "",
                "address": applicant.get("address") or person.address,
                "town": town.name if town else "",
            },
            channel=channel,
            signed_at=signed_at,
        )
        if agent is not None:
            frozen["agent"] = agent["frozen"]
        pledge = Pledge(
            matter=matter,
            template=template,
            person=person,
            account=person.account if hasattr(person, "account") else None,
            clerk=actor if channel == Channel.WINDOW else None,
            applicant_name=registered_name,
            applicant_phone=phone,
            applicant_address=applicant.get("address") or person.address,
            applicant_town=town,
            channel=channel,
            content=frozen,
            content_sha256=content_hash(frozen),
            statements_accepted=True,
            typed_name=typed_name.strip(),
            signed_at=signed_at,
            ip=context.get("ip"),
            user_agent=context.get("user_agent", ""),
        )
        # Files and the row's values first, the number last: the year's counter stays locked
        # from taking the number until the commit, so nothing slow may come in between.
        if signature_bytes:
            digest = hashlib.sha256(signature_bytes).hexdigest()[:16]
            pledge.signature.save(
                f"{digest}-{uuid.uuid4().hex[:12]}.png", ContentFile(signature_bytes), save=False
            )
        if paper_scan is not None:
            pledge.paper_scan.save(
                f"{uuid.uuid4().hex[:16]}-scan.{_scan_extension(paper_scan)}",
                paper_scan,
                save=False,
            )
        insert = _pledge_insert.bind(pledge)  # every value computed before the lock
        pledge.number = _next_number(timezone.localtime(signed_at).year)
        insert.execute("number")
        audit_record(
            actor=actor,
            action="pledge.signed",
            obj=pledge,
            person_hash=person.id_hash,
            data={
                "number": pledge.number,
                "matter": matter.code,
                "channel": channel,
                **({"agent": agent["audit"]} if agent else {}),
            },
        )
    return pledge


def _agent_for(*, actor, principal_number: str, matter: Matter) -> dict | None:
    """The recorded authorisation that lets ``actor`` pledge for the principal, as the
    principal person, the block frozen into the pledge and the audit details; else ``None``."""
    principal = person_by_id_number(principal_number)
    authorisation = authorisation_for(actor.person, principal, matter.code, timezone.localdate())
    if authorisation is None:
        return None
    block = {
        "name": actor.person.name,
        "id_masked": actor.person.id_masked,
        "authorisation": authorisation.pk,
        "valid_to": authorisation.valid_to.isoformat(),
    }
    return {
        "principal": principal,
        "frozen": block,
        "audit": {**block, "agent_hash": actor.person.id_hash},
    }


def _locked(pledge: Pledge) -> Pledge:
    return Pledge.objects.select_for_update().get(pk=pledge.pk)


def pledge_withdraw(*, pledge: Pledge, actor, reason: str = "") -> Pledge:
    """The applicant withdraws before the decision and goes back to the certificate."""
    with transaction.atomic():
        pledge = _locked(pledge)
        is_owner = actor.person_id is not None and actor.person_id == pledge.person_id
        if not (is_owner or roles.has_role(actor, roles.WINDOW_CLERK)):
            raise NotAllowed(_("Only the applicant may withdraw this pledge."))
        if not pledge.can_move_to(PledgeStatus.WITHDRAWN):
            raise Conflict(
                _("A pledge can be withdrawn only before the matter is decided."),
                code="invalid_state",
            )
        pledge.status = PledgeStatus.WITHDRAWN
        pledge.withdrawn_at = timezone.now()
        pledge.withdraw_reason = reason[:500]
        pledge.save(update_fields=["status", "withdrawn_at", "withdraw_reason"])
        audit_record(
            actor=actor,
            action="pledge.withdrawn",
            obj=pledge,
            person_hash=pledge.person.id_hash,
            data={"reason": pledge.withdraw_reason},
        )
    return pledge


def pledge_decide(*, pledge: Pledge, actor, note: str = "") -> Pledge:
    """A window clerk records the authority's decision on the matter."""
    if not roles.has_role(actor, roles.WINDOW_CLERK):
        raise NotAllowed(_("Only a window clerk records decisions."))
    with transaction.atomic():
        pledge = _locked(pledge)
        if not pledge.can_move_to(PledgeStatus.DECIDED):
            raise Conflict(
                _("This pledge is %(status)s; it cannot be decided.")
                % {"status": pledge.get_status_display()},
                code="invalid_state",
            )
        pledge.status = PledgeStatus.DECIDED
        pledge.decided_at = timezone.now()
        pledge.decided_by = actor
        pledge.decision_note = note[:500]
        pledge.save(update_fields=["status", "decided_at", "decided_by", "decision_note"])
        audit_record(
            actor=actor,
            action="pledge.decided",
            obj=pledge,
            person_hash=pledge.person.id_hash,
            data={"note": pledge.decision_note},
        )
    return pledge


def certificate_choose(
    *, matter: Matter, actor, channel: str = Channel.ONLINE
) -> CertificateChoice:
    """Record that the applicant will bring the certificate instead (free choice)."""
    with transaction.atomic():
        choice = CertificateChoice.objects.create(
            matter=matter,
            person=getattr(actor, "person", None),
            account=actor if actor.is_authenticated else None,
            channel=channel,
        )
        audit_record(actor=actor, action="pledge.certificate_chosen", obj=choice)
    return choice


def window_person_lookup(*, actor, id_number: str) -> str:
    """A window clerk looks a resident up by ID number (the resident is at the window with
    the card). Recorded in the audit log, which is what opens the resident's online pledges
    to this clerk for ``CHENGNUO_WINDOW_SERVICE_HOURS`` (``selectors.window_scope``).
    Returns the keyed hash of the number."""
    if not roles.has_role(actor, roles.WINDOW_CLERK):
        raise NotAllowed(_("Only a window clerk looks residents up at the window."))
    try:
        number = id_numbers.validate(id_number)
    except id_numbers.InvalidIdNumber as exc:
        raise DomainError(str(exc), field="id_number") from exc
    person_hash = id_numbers.keyed_hash(number)
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="pledge.window_lookup",
            object_type="accounts.person",
            person_hash=person_hash,
        )
    return person_hash
