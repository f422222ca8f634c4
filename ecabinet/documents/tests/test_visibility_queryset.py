"""Document visibility as one query (``visible_documents_qs``, used by search and lists) decides
exactly as the per-document check ``can_see_document``, for every role of the cabinet, over
documents that differ in every way the rule looks at: classification, owner, uploader, a meeting
or item link, the item's status and level, a meeting the user does not attend, another
government. The meeting and item querysets it stands on are held equal to theirs too."""

from __future__ import annotations

import itertools

import pytest

from ecabinet.documents import permissions
from ecabinet.documents.models import Document, DocumentVersion, DossierEntry
from ecabinet.identity.models import Clearance, Role
from ecabinet.identity.tests.factories import GovernmentFactory, MinistryFactory, UserFactory
from ecabinet.meetings import permissions as meeting_permissions
from ecabinet.meetings.models import AgendaItem, Meeting
from ecabinet.meetings.tests.factories import AgendaItemFactory, ItemGuestFactory, MeetingFactory, ParticipantFactory

pytestmark = pytest.mark.django_db


# Every state a version can end or wait in: a document with no ready version is seen only by
# those who can act on it (uploader, secretaries), so the states must vary across the fixture.
STATES = [s for s in DocumentVersion.State.values]


def _document(owner, creator, level, n, state=DocumentVersion.State.READY):
    doc = Document.objects.create(title=f"Tài liệu {n}", owner_organisation=owner, created_by=creator, classification=level)
    DocumentVersion.objects.create(document=doc, number=1, filename=f"{n}.pdf", uploaded_by=creator, size=1, original_sha256="0" * 64, state=state)
    return doc


@pytest.fixture
def world(cabinet):
    c = cabinet
    # More people: an item-only guest, a confidential member, a security officer, an admin, and
    # a secretary of a second ministry.
    item_guest = UserFactory(role=Role.GUEST, organisation=c.government, full_name="Khách mời một mục")
    cleared_member = UserFactory(role=Role.MEMBER, organisation=c.ministry, clearance=Clearance.CONFIDENTIAL)
    officer = UserFactory(role=Role.SECURITY_OFFICER, organisation=c.office, clearance=Clearance.SECRET)
    admin = UserFactory(role=Role.ADMIN, organisation=c.government)
    other_ministry = MinistryFactory(parent=c.government, name="Bộ Tư pháp")
    other_secretary = UserFactory(role=Role.SECRETARY, organisation=other_ministry, clearance=Clearance.CONFIDENTIAL)
    ParticipantFactory(meeting=c.meeting, user=cleared_member)
    proposed = AgendaItemFactory(meeting=c.meeting, order=4, status=AgendaItem.Status.PROPOSED, proposed_by=other_secretary, presenting_org=other_ministry)
    secret_item = AgendaItemFactory(meeting=c.meeting, order=5, classification=Clearance.CONFIDENTIAL, proposed_by=c.ministry_secretary)
    ItemGuestFactory(item=c.items[1], user=item_guest)
    ItemGuestFactory(item=secret_item, user=item_guest)
    # A confidential meeting the cleared member attends, and a meeting nobody here attends.
    closed = MeetingFactory(organisation=c.government, chair=c.chair, created_by=c.office_secretary, classification=Clearance.CONFIDENTIAL)
    ParticipantFactory(meeting=closed, user=cleared_member)
    closed_item = AgendaItemFactory(meeting=closed, order=1, proposed_by=c.ministry_secretary)
    elsewhere = MeetingFactory(organisation=c.government, chair=admin, created_by=c.office_secretary, state=Meeting.State.SCHEDULED)
    elsewhere_item = AgendaItemFactory(meeting=elsewhere, order=1, proposed_by=other_secretary)
    foreign_gov = GovernmentFactory(name="Another government")
    foreign_secretary = UserFactory(role=Role.SECRETARY, organisation=foreign_gov, clearance=Clearance.CONFIDENTIAL)

    places = [
        (c.meeting, None),
        (c.meeting, c.items[0]),
        (c.meeting, c.items[1]),
        (c.meeting, proposed),
        (c.meeting, secret_item),
        (closed, None),
        (closed, closed_item),
        (elsewhere, elsewhere_item),
        (None, None),
    ]
    owners = [(c.office, c.office_secretary), (c.ministry, c.ministry_secretary), (other_ministry, other_secretary)]
    levels = [Clearance.PUBLIC, Clearance.INTERNAL, Clearance.CONFIDENTIAL]
    docs = []
    for n, ((meeting, item), (owner, creator), level) in enumerate(itertools.product(places, owners, levels)):
        doc = _document(owner, creator, level, n, state=STATES[n % len(STATES)] if n % 2 else DocumentVersion.State.READY)
        if meeting is not None:
            DossierEntry.objects.create(meeting=meeting, item=item, document=doc, added_by=creator)
        docs.append(doc)
    # One document uploaded (as a new version) by someone other than its creator, and one of
    # another government.
    DocumentVersion.objects.create(document=docs[-1], number=2, filename="v2.pdf", uploaded_by=c.members[0], size=1, original_sha256="1" * 64)
    # A ready first version with a quarantined second one, on an item members see.
    refused_newer = _document(c.office, c.office_secretary, Clearance.PUBLIC, "r")
    DossierEntry.objects.create(meeting=c.meeting, item=c.items[0], document=refused_newer, added_by=c.office_secretary)
    DocumentVersion.objects.create(
        document=refused_newer,
        number=2,
        filename="r2.pdf",
        uploaded_by=c.office_secretary,
        size=1,
        original_sha256="2" * 64,
        state=DocumentVersion.State.QUARANTINED,
    )
    docs.append(refused_newer)
    docs.append(_document(foreign_gov, foreign_secretary, Clearance.PUBLIC, "x"))
    people = [
        c.office_secretary,
        c.chair,
        *c.members,
        c.ministry_secretary,
        c.guest,
        item_guest,
        cleared_member,
        officer,
        admin,
        other_secretary,
        foreign_secretary,
    ]
    return {"docs": docs, "people": people, "meetings": [c.meeting, closed, elsewhere], "refused_newer": refused_newer}


def test_queryset_equals_the_per_document_check_for_every_role(world):
    roles = set()
    for user in world["people"]:
        roles.add(user.role)
        expected = {d.pk for d in world["docs"] if permissions.can_see_document(user, d)}
        got = set(permissions.visible_documents_qs(user).values_list("pk", flat=True))
        assert got == expected, (user.role, user.full_name, sorted(got ^ expected))
        assert {d.pk for d in permissions.visible_documents(user)} == expected
    assert roles == {r.value for r in Role}
    # The fixture is not trivial: some see many, some few, nobody everything.
    counts = sorted(len(permissions.visible_documents(u)) for u in world["people"])
    assert counts[0] < counts[-1] < len(world["docs"])


def test_unfinished_versions_are_seen_only_by_those_who_can_act_on_them(world, cabinet):
    """Members see a document only once a version is ready, and only ready versions; the
    uploader and the secretaries see every version. Held equal for every role and document."""
    unfinished_seen = set()
    for user in world["people"]:
        for doc in world["docs"]:
            if not permissions.can_see_document(user, doc):
                continue
            versions = list(doc.versions.all())
            seen = {v.pk for v in versions if permissions.can_see_version(user, v)}
            assert {v.pk for v in permissions.visible_versions(user, doc)} == seen
            if permissions.sees_unfinished(user, doc):
                assert seen == {v.pk for v in versions}
                if any(not v.is_ready for v in versions):
                    unfinished_seen.add(user.role)
            else:
                # Nothing a member may not open: at least one version, and all of them ready.
                assert seen and all(v.is_ready for v in versions if v.pk in seen), (user.full_name, doc.title)
    assert {Role.SECRETARY} <= unfinished_seen
    member, refused = cabinet.members[0], world["refused_newer"]
    assert [v.number for v in permissions.visible_versions(member, refused)] == [1]
    assert [v.number for v in permissions.visible_versions(cabinet.office_secretary, refused)] == [2, 1]
    assert permissions.newer_version_status(refused) == "refused"
    # A member does not see a document whose only version is quarantined, held, failed or queued.
    hidden = [d for d in world["docs"] if not permissions.has_ready_version(d)]
    assert hidden and not any(d in permissions.visible_documents(member) for d in hidden)


def test_meeting_and_item_querysets_equal_their_checks(world):
    items = list(AgendaItem.objects.select_related("meeting"))
    for user in world["people"]:
        assert set(meeting_permissions.seen_meetings(user)) == {m for m in Meeting.objects.all() if meeting_permissions.can_see_meeting(user, m)}
        assert set(meeting_permissions.seen_items(user)) == {i for i in items if meeting_permissions.can_see_item(user, i)}


def test_filtered_by_meeting_and_item(world, cabinet):
    member = cabinet.members[0]
    in_item = permissions.visible_documents(member, item=cabinet.items[0])
    in_meeting = permissions.visible_documents(member, meeting=cabinet.meeting)
    assert in_item and set(in_item) < set(in_meeting)
    assert all(DossierEntry.objects.filter(document=d, item=cabinet.items[0]).exists() for d in in_item)
    assert permissions.visible_documents_qs(None).count() == 0
