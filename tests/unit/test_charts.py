"""The dashboard's bar charts (config/charts.py): the date labels stay inside the drawing."""

from config.charts import WIDTH, Column, bar_chart


def test_the_first_and_last_labels_are_anchored_inside_the_chart_the_others_centred():
    columns = [Column(label=f"{day} Nov", parts=[("once", 100, "")]) for day in range(1, 8)]

    labels = bar_chart("Revenue", columns).labels

    assert [label.anchor for label in labels] == ["start", *["middle"] * 5, "end"]
    bars = bar_chart("Revenue", columns).bars
    assert labels[0].x == bars[0].x  # starts where its bar does: "1 Nov", not "l Nov"
    assert labels[-1].x == round(bars[-1].x + bars[-1].width, 2) <= WIDTH  # ends with its bar
    assert labels[3].x == round(bars[3].x + bars[3].width / 2, 2)  # centred under its bar
