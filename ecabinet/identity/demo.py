"""The demo government: its organisations and people, with Vietnamese names."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ecabinet.identity import actions
from ecabinet.identity.core import secretbox, totp
from ecabinet.identity.models import Clearance, Organisation, Role, User

DEMO_PASSWORD = "ecabinet-demo-2026"  # noqa: S105 - the published demo password, embedded mode only
GOVERNMENT = "Chính phủ nước Cộng hòa xã hội chủ nghĩa Việt Nam"
OFFICE = ("Văn phòng Chính phủ", "VPCP")
MINISTRIES = [
    ("Bộ Tài chính", "BTC"),
    ("Bộ Tư pháp", "BTP"),
    ("Bộ Ngoại giao", "BNG"),
    ("Bộ Nội vụ", "BNV"),
    ("Bộ Y tế", "BYT"),
    ("Bộ Giáo dục và Đào tạo", "BGDĐT"),
    ("Bộ Công Thương", "BCT"),
    ("Bộ Nông nghiệp và Môi trường", "BNNMT"),
    ("Bộ Xây dựng", "BXD"),
]


@dataclass(frozen=True)
class Person:
    username: str
    full_name: str
    title: str
    role: str
    clearance: int
    org: str  # short name, or "" for the government itself


PEOPLE = [
    Person("thutuong", "Phạm Minh Chính", "Thủ tướng Chính phủ", Role.CHAIR, Clearance.TOP_SECRET, ""),
    Person("pho.thutuong", "Nguyễn Hòa Bình", "Phó Thủ tướng Thường trực", Role.MEMBER, Clearance.TOP_SECRET, ""),
    Person("bt.taichinh", "Nguyễn Văn Thắng", "Bộ trưởng Bộ Tài chính", Role.MEMBER, Clearance.SECRET, "BTC"),
    Person("bt.tuphap", "Nguyễn Hải Ninh", "Bộ trưởng Bộ Tư pháp", Role.MEMBER, Clearance.SECRET, "BTP"),
    Person("bt.ngoaigiao", "Lê Thị Thu Hằng", "Bộ trưởng Bộ Ngoại giao", Role.MEMBER, Clearance.SECRET, "BNG"),
    Person("bt.noivu", "Đỗ Thanh Bình", "Bộ trưởng Bộ Nội vụ", Role.MEMBER, Clearance.SECRET, "BNV"),
    Person("bt.yte", "Đào Hồng Lan", "Bộ trưởng Bộ Y tế", Role.MEMBER, Clearance.SECRET, "BYT"),
    Person("bt.giaoduc", "Nguyễn Kim Sơn", "Bộ trưởng Bộ Giáo dục và Đào tạo", Role.MEMBER, Clearance.SECRET, "BGDĐT"),
    Person("bt.congthuong", "Nguyễn Hồng Diên", "Bộ trưởng Bộ Công Thương", Role.MEMBER, Clearance.SECRET, "BCT"),
    Person("bt.nongnghiep", "Đỗ Đức Duy", "Bộ trưởng Bộ Nông nghiệp và Môi trường", Role.MEMBER, Clearance.SECRET, "BNNMT"),
    Person("bt.xaydung", "Trần Hồng Minh", "Bộ trưởng Bộ Xây dựng", Role.MEMBER, Clearance.SECRET, "BXD"),
    Person("thuky.vpcp", "Trần Văn Sơn", "Bộ trưởng, Chủ nhiệm Văn phòng Chính phủ", Role.SECRETARY, Clearance.SECRET, "VPCP"),
    Person("chuyenvien.vpcp", "Nguyễn Thị Hương", "Chuyên viên Vụ Tổng hợp, Văn phòng Chính phủ", Role.SECRETARY, Clearance.CONFIDENTIAL, "VPCP"),
    Person("thuky.btc", "Lê Quang Huy", "Chánh Văn phòng Bộ Tài chính", Role.SECRETARY, Clearance.CONFIDENTIAL, "BTC"),
    Person("baomat", "Hoàng Minh Tuấn", "Cán bộ an ninh thông tin", Role.SECURITY_OFFICER, Clearance.SECRET, "VPCP"),
    Person("quantri", "Vũ Đức Anh", "Quản trị hệ thống", Role.ADMIN, Clearance.INTERNAL, "VPCP"),
    Person("khach", "Trương Thị Mai", "Chuyên gia kinh tế (khách mời)", Role.GUEST, Clearance.PUBLIC, ""),
]


def is_seeded() -> bool:
    return User.objects.exists()


@transaction.atomic
def seed() -> list[User]:
    government = actions.create_organisation(name=GOVERNMENT, kind=Organisation.Kind.GOVERNMENT, short_name="CP")
    orgs = {"": government}
    orgs[OFFICE[1]] = actions.create_organisation(name=OFFICE[0], short_name=OFFICE[1], kind=Organisation.Kind.OFFICE, parent=government)
    for name, short in MINISTRIES:
        orgs[short] = actions.create_organisation(name=name, short_name=short, kind=Organisation.Kind.MINISTRY, parent=government)
    users = []
    for p in PEOPLE:
        user = actions.create_user(
            username=p.username,
            password=DEMO_PASSWORD,
            role=p.role,
            organisation=orgs[p.org],
            full_name=p.full_name,
            title=p.title,
            email=f"{p.username}@chinhphu.example",
            clearance=p.clearance,
        )
        if p.role != Role.GUEST:
            # Demo accounts come enrolled so a newcomer can sign in at once with `ecabinet demo-code`.
            user.totp_secret = secretbox.seal(settings.SECRET_KEY, actions.TOTP_PURPOSE, totp.new_secret())
            user.totp_confirmed_at = timezone.now()
            User.objects.filter(pk=user.pk).update(totp_secret=user.totp_secret, totp_confirmed_at=user.totp_confirmed_at)
        users.append(user)
    return users


def demo_logins() -> list[tuple[str, str, str, str]]:
    """(username, role, name, TOTP secret or '') for every demo person still present."""
    rows = []
    for p in PEOPLE:
        user = User.objects.filter(username=p.username).first()
        if user is None:
            continue
        secret = actions.pending_totp_secret(user) if user.mfa_enrolled else ""
        rows.append((user.username, user.role, user.display_name, secret or ""))
    return rows


def release_seeding_codes() -> None:
    User.objects.filter(username__in=[p.username for p in PEOPLE]).update(totp_last_step=0)
