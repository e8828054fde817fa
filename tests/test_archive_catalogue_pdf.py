"""The 归档文件目录 PDF is laid out from a generator of rows (the export streams 10,000 件 through it):
every row is there once, in order, and the 备考表 counts the rows it was given."""
import pymupdf


def test_it_lists_every_row_of_a_generator_once_and_counts_them_in_the_reference_table():
    from documents.archive import pdfs

    rows = ([str(i), f"Z109-WS·2026-Y-BGS-{i:04d}", f"咸政发〔2026〕{i}号", "咸阳市人民政府", f"第{i}件的题名",
             "20260105", "", "2", ""] for i in range(1, 451))
    data = pdfs.catalogue_pdf("归档文件目录（Z109 2026年度）", rows, note={"pages": 900})
    with pymupdf.open(stream=data, filetype="pdf") as pdf:
        text = "\n".join(page.get_text() for page in pdf)
        codes = [line for line in text.splitlines() if line.startswith("Z109-WS·2026-Y-BGS-")]
    assert codes == [f"Z109-WS·2026-Y-BGS-{i:04d}" for i in range(1, 451)]
    reference = text[text.index("备考表"):]
    assert "450" in reference.split("本目录所列件数")[1].split("总页数")[0]
