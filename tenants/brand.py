"""Brand values used by pages and emails, with WCAG contrast so text on brand colours stays legible."""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import formataddr, parseaddr

from django.conf import settings

DEFAULT_PRIMARY = "#1F4E79"
DEFAULT_ACCENT = "#F2A900"


def _relative_luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(foreground: str, background: str) -> float:
    lighter, darker = sorted((_relative_luminance(foreground), _relative_luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def readable_text_on(background: str) -> str:
    """Black or white, whichever contrasts more with the background."""
    return "#FFFFFF" if contrast_ratio("#FFFFFF", background) >= contrast_ratio("#111111", background) else "#111111"


WCAG_AA_TEXT = 4.5


@dataclass(frozen=True)
class ContrastCheck:
    """One pairing of a brand colour with the text drawn on or around it, judged against WCAG AA."""

    label: str
    ratio: float
    advice: str

    @property
    def passes(self) -> bool:
        return self.ratio >= WCAG_AA_TEXT


def brand_contrast_checks(*, primary: str, accent: str) -> list[ContrastCheck]:
    """The pairings the shell really draws: primary as link/button colour on white, and each brand
    colour behind its own text (black or white, whichever reads better)."""
    return [
        ContrastCheck(
            "Primary colour as text on white",
            round(contrast_ratio(primary, "#FFFFFF"), 2),
            "choose a darker primary colour",
        ),
        ContrastCheck(
            "Text on the primary colour",
            round(contrast_ratio(readable_text_on(primary), primary), 2),
            "choose a darker or lighter primary colour",
        ),
        ContrastCheck(
            "Text on the accent colour",
            round(contrast_ratio(readable_text_on(accent), accent), 2),
            "choose a darker or lighter accent colour",
        ),
    ]


@dataclass(frozen=True)
class Brand:
    name: str
    primary: str
    accent: str
    logo_url: str | None
    support_email: str
    sender_name: str
    is_partner: bool
    show_product: bool = True  # "Powered by" the product; off on a white-label partner's plan

    @property
    def on_primary(self) -> str:
        return readable_text_on(self.primary)

    @property
    def on_accent(self) -> str:
        return readable_text_on(self.accent)

    @property
    def initials(self) -> str:
        return "".join(word[0] for word in self.name.split()[:2]).upper()


def brand_sender(brand: Brand) -> str:
    """The From header of a mail in `brand`: a partner's mails carry its sender name (never the
    product's, whatever its plan) from its support address, or from the platform's no-reply address
    when it has none."""
    if not brand.is_partner:
        return settings.DEFAULT_FROM_EMAIL
    address = brand.support_email or parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return formataddr((brand.sender_name or brand.name, address))


def brand_for_partner(partner) -> Brand:
    if partner is None:
        return Brand(
            name=settings.PORTAL_PRODUCT_NAME,
            primary=DEFAULT_PRIMARY,
            accent=DEFAULT_ACCENT,
            logo_url=None,
            support_email="support@tillbridge.localhost",
            sender_name=settings.PORTAL_PRODUCT_NAME,
            is_partner=False,
        )
    return Brand(
        name=partner.name,
        primary=partner.primary_colour,
        accent=partner.accent_colour,
        logo_url=partner.logo.url if partner.logo else None,
        support_email=partner.support_email,
        sender_name=partner.sender_name or partner.name,
        is_partner=True,
        show_product=partner.plan != partner.Plan.WHITE_LABEL,
    )
