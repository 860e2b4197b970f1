"""The tables block every eval report shares, in markdown and in HTML (Jinja templates)."""

# The tables part of every report the evals write (ShapesBench, its noise sweep, the critic evaluation),
# in each format: a table is {"title", "head": [cells], "rows": [[cells]]}.
TABLES_MARKDOWN = """\
{% for t in tables %}

## {{ t.title }}

| {{ t.head | join(" | ") }} |
|{% for _ in t.head %}---|{% endfor %}

{% for row in t.rows %}
| {{ row | join(" | ") }} |
{% endfor %}
{% endfor %}
"""

TABLES_HTML = """\
{% for t in tables %}
<h2>{{ t.title }}</h2>
<table><tr>{% for h in t.head %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in t.rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% endfor %}
"""
