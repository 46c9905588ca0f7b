"""Split sections into chunks for retrieval, never across a section boundary.

Each section's cleaned text is split with langchain's RecursiveCharacterTextSplitter
(paragraphs, then lines, then sentences), and each chunk is mapped back to the corpus
lines it came from, so a citation can point at lines a-b of the file. A chunk id is the
section id plus an ordinal: stable across rebuilds of the same corpus.

The splitter (LangChain, ~1-3 s to import with pydantic) is imported only to build:
`Chunk` is on the path of every `tutor ask`.

Limits: sizes are in characters, not model tokens (~4 characters a token for this text).
"""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass

from tutor.corpus import PATH_SEP, Section


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage and where it sits in the guide."""

    id: str
    section_id: str
    section_path: str
    title: str
    file: str
    start_line: int
    end_line: int
    text: str

    def embedding_text(self) -> str:
        """What the embedder and BM25 see: the section's path gives the passage context."""
        tail = PATH_SEP.join(self.section_path.split(PATH_SEP)[-2:])
        return f"{tail}\n{self.text}"

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def chunk_sections(sections: list[Section], chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        separators=["\n\n", "\n", ". ", "; ", ", ", " ", ""],
        keep_separator="end",
        add_start_index=True,
        strip_whitespace=True,
    )
    chunks: list[Chunk] = []
    for sec in sections:
        if not sec.text:
            continue
        # offsets[i] is where line i starts in the joined text
        offsets, pos = [], 0
        for ln in sec.lines:
            offsets.append(pos)
            pos += len(ln.text) + 1
        joined = "\n".join(ln.text for ln in sec.lines)
        for i, doc in enumerate(splitter.create_documents([joined])):
            start = int(doc.metadata["start_index"])
            end = start + len(doc.page_content) - 1
            first = sec.lines[bisect.bisect_right(offsets, start) - 1].number
            last = sec.lines[bisect.bisect_right(offsets, end) - 1].number
            chunks.append(
                Chunk(
                    id=f"{sec.id}#{i}",
                    section_id=sec.id,
                    section_path=sec.path_str,
                    title=sec.title,
                    file=sec.file,
                    start_line=first,
                    end_line=last,
                    text=doc.page_content,
                )
            )
    return chunks
