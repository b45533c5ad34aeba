from django.contrib import admin

from payments.models import SuggestedAmount


@admin.register(SuggestedAmount)
class SuggestedAmountAdmin(admin.ModelAdmin):
    list_display = ["__str__", "currency", "amount", "position", "is_default"]
    list_editable = ["position", "is_default"]
    list_filter = ["currency"]
