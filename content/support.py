"""The support block under an article: what to show this reader, decided once.

The article page (content/views.py) and the support-block API (content/api.py) both
render `support_block()`, so the page and the embed never disagree. Variants:

- "ask": not a member, never gave (or anonymous): become a member, or give once;
- "donor": gave once, not a member: thanks, and an invitation to give monthly;
- "member": perks now (paid, comp or gift): no ask, thanks with member-since and level,
  and the article's member extras; asks such as "give a membership" only when the
  level does not promise "No donation reminders" (`show_asks`);
- "lapsed": was a member, no perks now: welcome back.

The anonymous block is a pure function of the article's slug and the live campaign's
progress, which comes from the cache (`live_campaign_progress`): served from the cache,
it costs no database query. A signed-in reader costs at most 2 (`reader_state`).
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from content.models import Article, Campaign, GoalKind
from members.models import Membership
from members.states import MembershipStatus
from payments.models import Payment
from payments.money import Money

Variant = str  # "ask" | "donor" | "member" | "lapsed"

LIVE_CAMPAIGN_KEY = "campaigns:live"
_NO_CAMPAIGN = "none"


@dataclass(frozen=True)
class Link:
    label: str
    url: str
    kind: str  # "join" | "give" | "gift" | "account"


@dataclass(frozen=True)
class CampaignProgress:
    slug: str
    name: str
    goal_kind: str  # "members" | "money"
    goal: int  # new members, or minor units of `currency`
    progress: int
    currency: str | None
    ends_at: datetime | None
    percent: int  # 0 to 100

    @property
    def figures(self) -> str:
        """ "3 of 500 new members", or "$1,200.00 of $5,000.00"."""
        if self.goal_kind == GoalKind.MONEY and self.currency:
            return f"{Money(self.progress, self.currency)} of {Money(self.goal, self.currency)}"
        return f"{self.progress:,} of {self.goal:,} new member{'' if self.goal == 1 else 's'}"


@dataclass(frozen=True)
class MemberExtras:
    notes_html: str  # sanitised when the article was saved
    documents: list[dict] = field(default_factory=list)  # [{"title", "url"}]


@dataclass(frozen=True)
class SupportBlock:
    variant: Variant
    heading: str
    text: str
    links: list[Link]
    campaign: CampaignProgress | None
    member_since: date | None
    level: str | None
    show_asks: bool
    extras: MemberExtras | None

    def as_json(self) -> dict:
        """A plain JSON-ready dict (dates and times in ISO 8601), as the API sends it."""
        campaign = None
        if self.campaign is not None:
            c = self.campaign
            campaign = {
                "slug": c.slug,
                "name": c.name,
                "goal_kind": c.goal_kind,
                "goal": c.goal,
                "progress": c.progress,
                "currency": c.currency,
                "ends_at": c.ends_at.isoformat() if c.ends_at else None,
                "percent": c.percent,
            }
        return {
            "variant": self.variant,
            "heading": self.heading,
            "text": self.text,
            "links": [{"label": x.label, "url": x.url, "kind": x.kind} for x in self.links],
            "campaign": campaign,
            "member_since": self.member_since.isoformat() if self.member_since else None,
            "level": self.level,
            "show_asks": self.show_asks,
            "extras": (
                None
                if self.extras is None
                else {
                    "notes_html": self.extras.notes_html,
                    "documents": [dict(d) for d in self.extras.documents],
                }
            ),
        }


# --- The reader ----------------------------------------------------------------------


@dataclass(frozen=True)
class ReaderState:
    """What the support block needs to know of a reader."""

    has_perks: bool = False
    was_member: bool = False  # a membership that had perks and has ended
    has_given: bool = False  # a payment in the ledger (asked only of non-members)
    member_since: date | None = None
    level: str | None = None
    no_donation_asks: bool = False


ANONYMOUS = ReaderState()


def reader_state(user) -> ReaderState:
    """The reader's memberships (1 query) and, for a non-member, whether they ever gave
    (1 more): at most 2 queries; none for an anonymous reader."""
    if user is None or not user.is_authenticated:
        return ANONYMOUS
    memberships = list(
        Membership.objects.filter(user=user)
        .exclude(status__in=[MembershipStatus.INCOMPLETE, MembershipStatus.EXPIRED])
        .select_related("level")
        .only("kind", "status", "starts_at", "ends_at", "level__name", "level__no_donation_asks")
        .order_by("starts_at", "pk")
    )
    current = [m for m in memberships if m.has_perks]
    if current:
        # The level shown is the best one held now (a paid level over a levelless comp).
        with_level = [m for m in current if m.level is not None]
        level = with_level[-1].level if with_level else None
        return ReaderState(
            has_perks=True,
            was_member=True,
            member_since=timezone.localdate(current[0].starts_at),
            level=level.name if level else None,
            no_donation_asks=bool(level and level.no_donation_asks),
        )
    return ReaderState(
        was_member=bool(memberships),
        has_given=Payment.objects.filter(donor__user=user).exists(),
    )


# --- The live campaign ---------------------------------------------------------------


def live_campaign_progress() -> CampaignProgress | None:
    """The running campaign's meter, from the cache (no query) when there.

    Kept until its counters or the campaign change (`forget_live_campaign`, called by
    content/services/campaigns.py and on save in admin), at most CAMPAIGN_CACHE_SECONDS,
    and never past the moment the campaign ends or the next one starts.
    """
    cached = cache.get(LIVE_CAMPAIGN_KEY)
    if cached is not None:
        return None if cached == _NO_CAMPAIGN else cached
    now = timezone.now()
    campaign = Campaign.objects.live(at=now).order_by("-starts_at", "-pk").first()
    progress = None if campaign is None else campaign_progress(campaign)
    timeout = settings.CAMPAIGN_CACHE_SECONDS
    next_start = (
        Campaign.objects.filter(starts_at__gt=now)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .order_by("starts_at")
        .values_list("starts_at", flat=True)
        .first()
    )
    for moment in (campaign.ends_at if campaign else None, next_start):
        if moment is not None:
            timeout = min(timeout, max(1, int((moment - now).total_seconds())))
    cache.set(LIVE_CAMPAIGN_KEY, _NO_CAMPAIGN if progress is None else progress, timeout)
    return progress


def forget_live_campaign() -> None:
    cache.delete(LIVE_CAMPAIGN_KEY)


def campaign_progress(campaign: Campaign) -> CampaignProgress:
    progress = campaign.progress
    return CampaignProgress(
        slug=campaign.slug,
        name=campaign.name,
        goal_kind=campaign.goal_kind,
        goal=campaign.goal,
        progress=progress,
        currency=campaign.currency or None,
        ends_at=campaign.ends_at,
        percent=min(100, progress * 100 // campaign.goal) if campaign.goal else 0,
    )


# --- The block -----------------------------------------------------------------------


def support_block(
    article: Article | None,
    user=None,
    *,
    slug: str = "",
    state: ReaderState | None = None,
) -> SupportBlock:
    """The block under `article` (or under the page named `slug`, an article this site
    does not know) for `user` (None or anonymous: the public "ask").

    `state` spares the reader's queries when the caller has it already."""
    slug = article.slug if article is not None else slug
    if state is None:
        state = reader_state(user)
    if state.has_perks:
        return _member_block(article, slug, state)
    campaign = live_campaign_progress()
    if state.was_member:
        return _block(
            "lapsed",
            heading="Welcome back",
            text=f"You were a member of {settings.ORGANIZATION_NAME}: thank you. Rejoin to "
            "get your perks back and keep this reporting free for everyone.",
            links=[
                Link("Rejoin", _url("members:join", slug, campaign), "join"),
                Link("Your account", reverse("members:account"), "account"),
            ],
        )
    if state.has_given:
        return _block(
            "donor",
            heading="Thank you for your gift",
            text="Your gift helps keep every article free. A monthly membership keeps the "
            "newsroom going all year, and comes with perks.",
            links=[
                Link("Give monthly: become a member", _url("members:join", slug, campaign), "join"),
                Link("Give again", _url("payments:give", slug, campaign), "give"),
            ],
            campaign=campaign,
        )
    return anonymous_block(slug, campaign)


def anonymous_block(slug: str, campaign: CampaignProgress | None) -> SupportBlock:
    """The public ask: a pure function of the slug and the campaign (safe to cache)."""
    return _block(
        "ask",
        heading=f"Keep {settings.ORGANIZATION_NAME} free for everyone",
        text="No paywall, ever: readers like you pay for this reporting.",
        links=[
            Link("Become a member", _url("members:join", slug, campaign), "join"),
            Link("Support us just once", _url("payments:give", slug, campaign), "give"),
            Link("Give a membership", _url("gifts:give", slug, campaign), "gift"),
        ],
        campaign=campaign,
    )


def _member_block(article: Article | None, slug: str, state: ReaderState) -> SupportBlock:
    since = f" since {date_format(state.member_since, 'j F Y')}" if state.member_since else ""
    level = f" ({state.level})" if state.level else ""
    show_asks = not state.no_donation_asks
    links = [Link("Your membership", reverse("members:account"), "account")]
    if show_asks:
        links.append(Link("Give a membership", _url("gifts:give", slug, None), "gift"))
    return _block(
        "member",
        heading="Thank you for being a member",
        text=f"You have been a member{since}{level}. Your support keeps this reporting "
        "free for everyone.",
        links=links,
        member_since=state.member_since,
        level=state.level,
        show_asks=show_asks,
        extras=member_extras(article),
    )


def member_extras(article: Article | None) -> MemberExtras | None:
    """The article's notes and documents for members; None when it has neither."""
    if article is None:
        return None
    documents = [{"title": d.title, "url": d.url} for d in article.documents.all()]
    if not article.member_notes and not documents:
        return None
    return MemberExtras(notes_html=article.member_notes, documents=documents)


def _block(
    variant: Variant,
    *,
    heading: str,
    text: str,
    links: list[Link],
    campaign: CampaignProgress | None = None,
    member_since: date | None = None,
    level: str | None = None,
    show_asks: bool = True,
    extras: MemberExtras | None = None,
) -> SupportBlock:
    return SupportBlock(
        variant=variant,
        heading=heading,
        text=text,
        links=links,
        campaign=campaign,
        member_since=member_since,
        level=level,
        show_asks=show_asks,
        extras=extras,
    )


def _url(name: str, slug: str, campaign: CampaignProgress | None) -> str:
    """A page of this site naming the article (and the running campaign, so what the
    reader gives there counts towards it)."""
    query = {}
    if slug:
        query["from"] = slug
    if campaign is not None:
        query["campaign"] = campaign.slug
    return reverse(name) + (f"?{urlencode(query)}" if query else "")
