"""The section parser on the real guide."""

from __future__ import annotations

import re

from tutor.chunk import chunk_sections
from tutor.corpus import PATH_SEP, parse_lines


def _sections(lines):
    return parse_lines(lines, "guide.md")


def _by_title(sections, title):
    found = [s for s in sections if s.title == title]
    assert found, f"no section titled {title!r}"
    return found[0]


def test_glue_vs_emr_passage_lands_under_its_task(guide_lines):
    secs = _sections(guide_lines)
    (no,) = [i for i, ln in enumerate(guide_lines, 1) if "Ideal for serverless ETL tasks" in ln]
    holder = [s for s in secs if any(ln.number == no for ln in s.lines)]
    assert len(holder) == 1
    assert holder[0].path == (
        "Domain 1: Data Ingestion and Transformation",
        "1.2 Transforming and Processing Ingested Data",
        "6. Choosing Between AWS Glue and Amazon EMR",
    )
    assert holder[0].start_line <= no <= holder[0].end_line


def test_numbered_subsections_at_mixed_heading_levels_are_siblings(guide_lines):
    secs = _sections(guide_lines)
    task = _by_title(secs, "1.2 Transforming and Processing Ingested Data")
    children = [s.title for s in secs if s.parent_id == task.id]
    assert [t.split(".")[0] for t in children] == [str(i) for i in range(1, 13)]


def test_domains_are_top_level_whatever_their_hashes(guide_lines):
    secs = _sections(guide_lines)
    domains = [s for s in secs if s.title.startswith("Domain ")]
    assert [s.title[:8] for s in domains] == ["Domain 1", "Domain 2", "Domain 3", "Domain 4"]
    assert all(s.depth == 0 for s in domains)
    task = _by_title(secs, "2.1 Choosing the Right Data Store")  # written as ###
    assert task.path[0] == "Domain 2: Data Store Management" and task.depth == 1


def test_bold_and_run_on_headings(guide_lines):
    secs = _sections(guide_lines)
    assert _by_title(secs, "Data Pipelines").path[0].startswith("Domain 1")
    ops = _by_title(secs, "4. Amazon OpenSearch Service")
    assert ops.lines[0].text.startswith("OpenSearch is an open source")


def test_table_of_contents_is_not_content(guide_lines):
    secs = _sections(guide_lines)
    chunks = chunk_sections(secs, 500, 60)
    toc_line = re.compile(r"\t\d+\s*$")
    toc_numbers = {i for i, ln in enumerate(guide_lines, 1) if toc_line.search(ln)}
    assert len(toc_numbers) > 30
    for s in secs:
        assert not {ln.number for ln in s.lines} & toc_numbers, s.path_str
    assert not any("Domain 2: Data Store Management\t32" in c.text for c in chunks)


def test_html_in_table_cells_becomes_text_with_bullets(guide_lines):
    secs = _sections(guide_lines)
    for s in secs:
        assert not re.search(r"</?(p|li|ul|b)\b", s.text, re.I), s.path_str
    dynamo = _by_title(secs, "3. Amazon DynamoDB")
    assert dynamo.path[-2] == "2. Variety"
    assert "• Fast, flexible, scalable single-digit millisecond performance" in dynamo.text
    table = _by_title(secs, "Comparing data storage methods")
    assert "Scaling | Scale vertically | Scale horizontally" in table.text


def test_ids_are_stable_and_unique(guide_lines):
    a, b = _sections(guide_lines), _sections(guide_lines)
    assert [s.id for s in a] == [s.id for s in b]
    assert len({s.id for s in a}) == len(a)
    assert all(PATH_SEP.join(s.path) == s.path_str for s in a)


def test_chunks_stay_inside_their_section_and_map_to_lines(guide_lines):
    secs = _sections(guide_lines)
    by_id = {s.id: s for s in secs}
    chunks = chunk_sections(secs, 500, 60)
    assert len({c.id for c in chunks}) == len(chunks)
    for c in chunks:
        s = by_id[c.section_id]
        assert s.start_line <= c.start_line <= c.end_line <= s.end_line
        assert len(c.text) <= 500
        first = next(ln.text for ln in s.lines if ln.number == c.start_line)
        # the chunk starts somewhere inside its first line (long lines are split)
        assert c.text[:20] in first or first[-20:] in c.text
