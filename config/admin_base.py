"""Admin plumbing every app's admin shares: read-only bases, list filters for links
(date ranges, typed values), totals above a list, and CSV export of a filtered list."""

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ORDER_VAR, ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.text import slugify


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written only from Stripe's side: staff look, they do not edit."""

    class Media:
        css = {"all": ["css/admin.css"]}  # flags in lists (no inline styles: see the CSP)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class _LargeChangeList(ChangeList):
    """A big list's rows: its `list_defer` columns left unread, and sorted only by the
    columns in `sortable_by` (each backed by an index), even when `?o=` asks otherwise."""

    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        deferred = getattr(self.model_admin, "list_defer", ())
        return queryset.defer(*deferred) if deferred else queryset

    def get_ordering_field(self, field_name):
        if self.sortable_by is not None and field_name not in self.sortable_by:
            return None  # a sort no index serves: a scan of the whole table
        return super().get_ordering_field(field_name)

    def get_ordering(self, request, queryset):
        """`?o=` naming no sortable column: the list's own order, not the primary key's."""
        asked = self.params.get(ORDER_VAR)
        if asked and not any(self._sortable(part) for part in asked.split(".")):
            params, self.params = self.params, {**self.params}
            del self.params[ORDER_VAR]
            try:
                return super().get_ordering(request, queryset)
            finally:
                self.params = params
        return super().get_ordering(request, queryset)

    def _sortable(self, part: str) -> bool:
        try:
            return bool(self.get_ordering_field(self.list_display[int(part.rpartition("-")[2])]))
        except (IndexError, ValueError):
            return False


class LargeListMixin:
    """A list over a table that grows with every payment (a million rows): no count of
    the whole table beside the filtered one, no counts per filter choice (facets), no
    date hierarchy (its DISTINCT dates scan the table: use DateRangeFilter), filters
    whose choices are known (not a DISTINCT over the table), big columns the list does
    not show left unread (`list_defer`), and sorting only by indexed columns
    (`sortable_by`; the default ordering has an index too)."""

    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_defer: tuple[str, ...] = ()  # columns the list does not show (payloads, text)

    def get_changelist(self, request: HttpRequest, **kwargs):
        changelist = super().get_changelist(request, **kwargs)
        if issubclass(changelist, _LargeChangeList):
            return changelist
        return type("LargeChangeList", (_LargeChangeList, changelist), {})


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


# --- List filters that read well in a link and cost one indexed condition ---------------


def _last(value):
    """A filter parameter's value as Django hands it over (a list since Django 5)."""
    return value[-1] if isinstance(value, list | tuple) else value


def _kept_params(request: HttpRequest, own: list[str]) -> list[tuple[str, str]]:
    """The list's other query parameters, for a filter's own small GET form to keep."""
    return [
        (name, value)
        for name, values in request.GET.lists()
        for value in values
        if name not in own and name != "p"
    ]


def parse_day_or_moment(text: str) -> datetime | None:
    """`2026-11-01` (midnight, local time) or an ISO date-time; None if neither."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        moment = parse_datetime(text)
        if moment is None:
            day = parse_date(text)
            if day is None:
                return None
            moment = datetime.combine(day, time.min)
    except ValueError:  # well-formed but impossible (2026-02-30)
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


class DateRangeFilter(admin.FieldListFilter):
    """A date-time column between two days: `<field>__gte=YYYY-MM-DD` (from, inclusive)
    and `<field>__lt=YYYY-MM-DD` (before, exclusive), the names Django's own date filter
    uses, so the dashboard's links and a bookmarked range keep working. Quick choices,
    plus a small form (two date inputs, no script) for any range. A value that is not a
    date is ignored and said so, never an error page. Use it instead of date_hierarchy on
    big tables: it runs no query of its own."""

    template = "admin/patronage/date_range_filter.html"

    def __init__(self, field, request, params, model, model_admin, field_path):
        self.lookup_gte = f"{field_path}__gte"
        self.lookup_lt = f"{field_path}__lt"
        self.given: dict[str, str] = {}
        for name in (self.lookup_gte, self.lookup_lt):
            if name in params:
                self.given[name] = str(_last(params.pop(name)))
        super().__init__(field, request, params, model, model_admin, field_path)
        self.bounds = {name: parse_day_or_moment(value) for name, value in self.given.items()}
        self.invalid = [
            value for name, value in self.given.items() if value.strip() and not self.bounds[name]
        ]
        self.used_parameters = {name: value for name, value in self.given.items() if value.strip()}
        self.kept_params = _kept_params(request, [self.lookup_gte, self.lookup_lt])

    def expected_parameters(self) -> list[str]:
        return [self.lookup_gte, self.lookup_lt]

    def has_output(self) -> bool:
        return True

    def queryset(self, request, queryset):
        conditions = {name: moment for name, moment in self.bounds.items() if moment}
        return queryset.filter(**conditions) if conditions else queryset

    def value_for_input(self, name: str) -> str:
        """What the form's date input shows: the day given, if it was a valid one."""
        moment = self.bounds.get(name)
        return timezone.localtime(moment).date().isoformat() if moment else ""

    @property
    def from_value(self) -> str:
        return self.value_for_input(self.lookup_gte)

    @property
    def before_value(self) -> str:
        return self.value_for_input(self.lookup_lt)

    def quick_ranges(self) -> list[tuple[str, date | None, date | None]]:
        today = timezone.localdate()
        month = today.replace(day=1)
        last_month = (month - timedelta(days=1)).replace(day=1)
        year = today.replace(month=1, day=1)
        return [
            ("Any date", None, None),
            ("Today", today, today + timedelta(days=1)),
            ("Past 7 days", today - timedelta(days=6), today + timedelta(days=1)),
            ("This month", month, (month + timedelta(days=32)).replace(day=1)),
            ("Last month", last_month, month),
            ("This year", year, year.replace(year=year.year + 1)),
            ("Last year", year.replace(year=year.year - 1), year),
        ]

    def choices(self, changelist):
        current = (self.given.get(self.lookup_gte, ""), self.given.get(self.lookup_lt, ""))
        for title, start, end in self.quick_ranges():
            wanted = (start.isoformat() if start else "", end.isoformat() if end else "")
            params = {self.lookup_gte: wanted[0], self.lookup_lt: wanted[1]} if start else {}
            yield {
                "selected": current == wanted,
                "query_string": changelist.get_query_string(
                    params, [self.lookup_gte, self.lookup_lt]
                ),
                "display": title,
            }


class KnownValuesFilter(admin.FieldListFilter):
    """`<field>__exact=<value>` for a column without choices: the values it can hold are
    listed from code (`values`: value and label pairs; make one with `.of(...)`), not
    from a DISTINCT over the whole table as Django's own filter for such a column does.
    A value asked for that is not listed is still applied (and shown)."""

    values: list[tuple[str, str]] = []

    @classmethod
    def of(cls, values) -> type["KnownValuesFilter"]:
        pairs = [
            (str(v[0]), str(v[1])) if isinstance(v, tuple) else (str(v), str(v)) for v in values
        ]
        return type(cls.__name__, (cls,), {"values": pairs})

    def __init__(self, field, request, params, model, model_admin, field_path):
        self.lookup_kwarg = f"{field_path}__exact"
        given = params.pop(self.lookup_kwarg, None)
        self.given = None if given is None else self.clean(str(_last(given)))
        super().__init__(field, request, params, model, model_admin, field_path)
        if self.given is not None:
            self.used_parameters[self.lookup_kwarg] = self.given

    def clean(self, given: str) -> str | None:
        """The value asked for, as compared (None: no filter)."""
        return given.strip()

    def choice_values(self) -> list[tuple[str, str]]:
        return list(self.values)

    def expected_parameters(self) -> list[str]:
        return [self.lookup_kwarg]

    def has_output(self) -> bool:
        return True

    def queryset(self, request, queryset):
        if self.given is None:
            return queryset
        try:
            value = self.field.to_python(self.given)
        except ValidationError as exc:
            raise IncorrectLookupParameters(exc) from exc
        return queryset.filter(**{self.field_path: value})

    def choices(self, changelist):
        yield {
            "selected": self.given is None,
            "query_string": changelist.get_query_string(remove=[self.lookup_kwarg]),
            "display": "All",
        }
        pairs = self.choice_values()
        if self.given is not None and self.given not in {value for value, _ in pairs}:
            pairs.append((self.given, self.given or "(none)"))
        for value, label in pairs:
            yield {
                "selected": self.given == value,
                "query_string": changelist.get_query_string({self.lookup_kwarg: value}),
                "display": label,
            }


class TextFilter(admin.ListFilter):
    """A filter by a typed value (`?<parameter_name>=<value>`), for columns with too many
    values to list (article slugs, campaigns): a small GET form, "All", and "None" (the
    column is blank: `?<parameter_name>=`). Subclasses set title, parameter_name and
    field (the model field compared exactly)."""

    template = "admin/patronage/text_filter.html"
    parameter_name = ""
    field = ""
    none_label = "None"

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.given: str | None = None
        if self.parameter_name in params:
            self.given = str(_last(params.pop(self.parameter_name))).strip()
            self.used_parameters[self.parameter_name] = self.given
        self.kept_params = _kept_params(request, [self.parameter_name])

    def expected_parameters(self) -> list[str]:
        return [self.parameter_name]

    def has_output(self) -> bool:
        return True

    def value(self) -> str | None:
        return self.given

    def queryset(self, request, queryset):
        if self.given is None:
            return queryset
        return queryset.filter(**{self.field: self.given})

    def choices(self, changelist):
        yield {
            "selected": self.given is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "All",
        }
        yield {
            "selected": self.given == "",
            "query_string": changelist.get_query_string({self.parameter_name: ""}),
            "display": self.none_label,
        }
        if self.given:
            yield {
                "selected": True,
                "query_string": changelist.get_query_string({self.parameter_name: self.given}),
                "display": self.given,
            }


# --- Totals above a list, for the filtered rows -----------------------------------------


@dataclass(frozen=True)
class Totals:
    """A small table shown above a list: a caption, column headers, rows of cells, and
    how many rows were totalled (the list's count, if known: it then runs no COUNT)."""

    caption: str
    headers: list[str]
    rows: list[list[str]]
    count: int | None = None


class _TotalsChangeList(ChangeList):
    """Totals the rows before the page is fetched, so that the page's count is the
    totals' own (one pass over the filtered rows instead of two)."""

    list_totals: Totals | None = None

    def get_results(self, request: HttpRequest) -> None:
        admin_ = self.model_admin
        if request.user.has_perm(admin_.totals_permission):
            self.list_totals = admin_.totals_of(self)
            if self.list_totals is not None and self.list_totals.count is not None:
                request._patronage_list_count = self.list_totals.count
        try:
            super().get_results(request)
        finally:
            request._patronage_list_count = None


class ListTotalsMixin:
    """Shows `list_totals(queryset)` above the list, over exactly the rows the list's
    filters and search select (all pages), to staff with `totals_permission` only.
    `list_totals` should run one aggregate query (GROUP BY), never loop over rows; when
    its Totals carry the count of rows, the list's paginator takes it (no COUNT query)."""

    totals_permission = "payments.view_revenue"
    change_list_template = "admin/patronage/change_list.html"  # shows the totals

    def list_totals(self, queryset) -> Totals | None:
        raise NotImplementedError

    def totals_of(self, changelist: ChangeList) -> Totals | None:
        """The totals of a list's rows; a list may answer from a summary table when its
        filters allow (the changelist tells which are used), instead of the rows."""
        return self.list_totals(changelist.queryset)

    def get_changelist(self, request: HttpRequest, **kwargs):
        changelist = super().get_changelist(request, **kwargs)
        if issubclass(changelist, _TotalsChangeList):
            return changelist
        return type("TotalsChangeList", (_TotalsChangeList, changelist), {})

    def get_paginator(self, request: HttpRequest, queryset, per_page, *args, **kwargs):
        paginator = super().get_paginator(request, queryset, per_page, *args, **kwargs)
        known = getattr(request, "_patronage_list_count", None)
        if known is not None:
            paginator.count = known  # a cached_property: the totals counted the rows
        return paginator

    def changelist_view(self, request: HttpRequest, extra_context=None):
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        changelist = context.get("cl") if context else None
        if changelist is not None and getattr(changelist, "list_totals", None) is not None:
            context["list_totals"] = changelist.list_totals
        return response


# --- CSV export of the list as filtered ---------------------------------------------------


class Echo:
    """A file-like object csv.writer writes a row to, handing the row back (streaming)."""

    def write(self, value: str) -> str:
        return value


def spreadsheet_safe(value: str) -> str:
    """Text a spreadsheet will not run as a formula (=, +, -, @ first: quoted)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def csv_cell(value) -> str:
    """One value as a CSV cell: text guarded against formulas, times in ISO 8601 (local)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return (
            timezone.localtime(value).isoformat(timespec="seconds")
            if timezone.is_aware(value)
            else value.isoformat(timespec="seconds")
        )
    if isinstance(value, str):
        return spreadsheet_safe(value)
    return str(value)


@dataclass(frozen=True)
class CsvColumn:
    """One CSV column: its header, the lookup read (values_list), and optionally how to
    write it: `cell(value, row)` (row: every lookup read, by name), whose result is
    written as is (e.g. a money amount in major units, which must not be guarded)."""

    header: str
    lookup: str
    cell: Callable[[object, dict], object] | None = None
    needs: tuple[str, ...] = ()  # other lookups `cell` reads from the row


class _RowsOnlyChangeList(ChangeList):
    """The list's filters, search and order, without fetching a page or counting."""

    def get_results(self, request: HttpRequest) -> None:
        self.result_count = self.full_result_count = 0
        self.result_list = []
        self.can_show_all = self.multi_page = False
        self.show_admin_actions = False


class CsvExportMixin:
    """ "Export CSV" on a list: every row of the list as filtered, searched and ordered
    (all pages, not only the selected ones), at `<list>/export.csv?<same query>`.

    Streamed from a server-side cursor in chunks, so a million rows never sit in memory;
    one query whatever the size (the columns are lookups: no per-row queries). Needs
    `export_permission` as well as permission to view the list; without it the button
    is not shown and the address answers 403."""

    export_permission = "payments.export_csv"
    change_list_template = "admin/patronage/change_list.html"  # shows the button
    csv_columns: list[CsvColumn] = []
    csv_name = ""  # the file's name before the date; the model's plural by default
    csv_chunk_size = 2000

    def has_export_csv_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request) and request.user.has_perm(self.export_permission)

    def _export_url_name(self) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_export_csv"

    def get_urls(self):
        return [
            path(
                "export.csv",
                self.admin_site.admin_view(self.export_csv_view),
                name=self._export_url_name(),
            ),
            *super().get_urls(),
        ]

    def get_changelist(self, request: HttpRequest, **kwargs):
        if getattr(request, "_patronage_csv_export", False):
            return type(
                "ExportChangeList",
                (_RowsOnlyChangeList, super().get_changelist(request, **kwargs)),
                {},
            )
        return super().get_changelist(request, **kwargs)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        if self.has_export_csv_permission(request):
            query = request.GET.copy()
            query.pop("p", None)
            url = reverse(f"admin:{self._export_url_name()}")
            extra_context = {
                **(extra_context or {}),
                "export_csv_url": f"{url}?{query.urlencode()}" if query else url,
            }
        return super().changelist_view(request, extra_context)

    def export_csv_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_export_csv_permission(request):
            raise PermissionDenied
        request._patronage_csv_export = True
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest("These filters cannot be applied.")
        finally:
            request._patronage_csv_export = False
        columns = self.csv_columns
        lookups = list(
            dict.fromkeys(name for column in columns for name in (column.lookup, *column.needs))
        )
        rows = changelist.queryset.values_list(*lookups).iterator(chunk_size=self.csv_chunk_size)

        def lines():
            writer = csv.writer(Echo())
            yield writer.writerow([column.header for column in columns])
            for values in rows:
                row = dict(zip(lookups, values, strict=True))
                yield writer.writerow(
                    [
                        csv_cell(row[column.lookup])
                        if column.cell is None
                        else column.cell(row[column.lookup], row)
                        for column in columns
                    ]
                )

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        name = self.csv_name or slugify(self.opts.verbose_name_plural)
        filename = f"{name}-{timezone.localdate():%Y-%m-%d}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Cache-Control"] = "no-store"
        return response


# --- Search that an index answers ---------------------------------------------------------

STRIPE_ID = re.compile(r"[a-z]{2,5}_[A-Za-z0-9]+")
EMAIL_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


# A search through a relation looks up the related rows first (one query), and asks for
# the list's rows by their keys when there are at most this many: the planner then knows
# how few they are (its guesses for LIKE are poor: it would scan a million rows).
FOUND_FIRST = 1000


def _matching(model, lookups: list[str], words: list[str], how: str) -> Q:
    """Rows of `model` where every word matches (`how`: exact, icontains) one of the
    lookups. Lookups through a relation (`donor__name`) are asked as `donor__in=<the
    donors where every word matches>`, one per relation (their keys, when FOUND_FIRST
    or fewer; else a subquery): never an OR across a join, which no index answers
    (PostgreSQL would scan and join both tables). So the words must all be found through
    one relation (or all in the row's own columns): a name is found in the donor's name
    and address, not half in each of two tables."""
    groups: dict[str, list[str]] = {}
    for lookup in lookups:
        head, _, rest = lookup.partition("__")
        relation = bool(rest) and model._meta.get_field(head).is_relation
        groups.setdefault(head if relation else "", []).append(rest if relation else lookup)
    condition = Q(pk__in=[])
    for head, rests in groups.items():
        if head:
            related = model._meta.get_field(head).related_model
            rows = related._base_manager.filter(_matching(related, rests, words, how))
            keys = rows.values_list("pk", flat=True)
            found = list(keys[: FOUND_FIRST + 1])
            condition |= Q(**{f"{head}__in": found if len(found) <= FOUND_FIRST else keys})
            continue
        every_word = Q()
        for word in words:
            any_column = Q()
            for lookup in rests:
                any_column |= Q(**{f"{lookup}__{how}": word})
            every_word &= any_column
        condition |= every_word
    return condition


class IndexedSearchMixin:
    """Search on a big list, answered by an index rather than a LIKE over every row:

    - one Stripe id (`pi_...`, `cus_...`): that id exactly, in the column(s) its prefix
      names (`stripe_id_search`; unique indexes);
    - a whole email address: that address exactly (`email_search`; addresses are stored
      lower-case); part of one with its `@` (`alice@`): contained in those columns;
    - anything else: each word contained in one of `search_fields` (names: trigram
      indexes on PostgreSQL), or equal to a `=field` (a public id, a number). Lookups
      through a relation become subqueries (see `_matching`)."""

    stripe_id_search: dict[str, list[str]] = {}  # "pi_" -> ["stripe_payment_intent_id"]
    email_search: list[str] = []  # lookups holding an address: ["donor__email"]

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
        term = search_term.strip()
        if not term:
            return queryset, False
        if STRIPE_ID.fullmatch(term):
            lookups = self.stripe_id_search.get(term.split("_", 1)[0] + "_")
            if lookups:
                return queryset.filter(_matching(self.model, lookups, [term], "exact")), False
        if "@" in term and self.email_search:
            whole = EMAIL_ADDRESS.fullmatch(term) is not None
            how, value = ("exact", term.lower()) if whole else ("icontains", term)
            return queryset.filter(_matching(self.model, self.email_search, [value], how)), False
        return queryset.filter(self._words_condition(term)), False

    def _words_condition(self, term: str) -> Q:
        """Each word in a partial field, or the whole term equal to an exact one."""
        partial = [name for name in self.search_fields if not name.startswith("=")]
        condition = Q(pk__in=[])
        if partial:
            condition = _matching(self.model, partial, term.split(), "icontains")
        for name in self.search_fields:
            if name.startswith("="):
                field = self.model._meta.get_field(name[1:])
                try:
                    value = field.to_python(term)
                except ValidationError:
                    continue  # not a value this column can hold (a name is not a UUID)
                condition |= Q(**{name[1:]: value})
        return condition
