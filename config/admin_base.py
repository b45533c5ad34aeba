"""Admin plumbing every app's admin shares: read-only bases, list filters for links
(date ranges, typed values), totals above a list, and CSV export of a filtered list."""

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
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


class LargeListMixin:
    """A list over a table that grows with every payment (a million rows): no count of
    the whole table beside the filtered one, no counts per filter choice (facets)."""

    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER


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
    """A small table shown above a list: a caption, column headers, rows of cells."""

    caption: str
    headers: list[str]
    rows: list[list[str]]


class ListTotalsMixin:
    """Shows `list_totals(queryset)` above the list, over exactly the rows the list's
    filters and search select (all pages), to staff with `totals_permission` only.
    `list_totals` should run one aggregate query (GROUP BY), never loop over rows."""

    totals_permission = "payments.view_revenue"
    change_list_template = "admin/patronage/change_list.html"  # shows the totals

    def list_totals(self, queryset) -> Totals | None:
        raise NotImplementedError

    def changelist_view(self, request: HttpRequest, extra_context=None):
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context and "cl" in context and request.user.has_perm(self.totals_permission):
            context["list_totals"] = self.list_totals(context["cl"].queryset)
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


# --- Search by Stripe id ------------------------------------------------------------------

STRIPE_ID = re.compile(r"[a-z]{2,5}_[A-Za-z0-9]+")


class StripeIdSearchMixin:
    """A search that is one Stripe id (`pi_...`, `cus_...`) finds that id exactly, in the
    column(s) its prefix names (unique indexes), rather than a LIKE over every search
    field; anything else is searched as usual (search_fields)."""

    stripe_id_search: dict[str, list[str]] = {}  # "pi_" -> ["stripe_payment_intent_id"]

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
        term = search_term.strip()
        if STRIPE_ID.fullmatch(term):
            lookups = self.stripe_id_search.get(term.split("_", 1)[0] + "_")
            if lookups:
                condition = Q()
                for lookup in lookups:
                    condition |= Q(**{lookup: term})
                return queryset.filter(condition), False
        return super().get_search_results(request, queryset, search_term)
