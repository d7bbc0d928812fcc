"""Small valid PDFs written by the tests themselves (no binary fixtures): each page is lines of
text in Helvetica, one of the 14 standard fonts, so no font program is embedded. Mirrors
tests/ingest/pdf_builder.hpp for the black-box tests."""


def _literal(text):
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def make_pdf(pages, title=None, trailer_extra=""):
    """`pages`: a list of pages, each a list of printed lines ("" leaves an empty line).
    Returns the file's bytes (Latin-1, which is WinAnsi for the characters tests use)."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", None,
               "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]
    kids = []
    for lines in pages:
        content = "BT /F1 11 Tf 14 TL 72 740 Td\n"
        content += "".join("T*\n" if not line else _literal(line) + " Tj T*\n" for line in lines)
        content += "ET"
        number = len(objects) + 1
        objects.append("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "
                       "<< /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (number + 1))
        objects.append("<< /Length %d >>\nstream\n%s\nendstream"
                       % (len(content.encode("latin-1")), content))
        kids.append("%d 0 R" % number)
    objects[1] = "<< /Type /Pages /Kids [%s] /Count %d >>" % (" ".join(kids), len(pages))
    info = ""
    if title:
        objects.append("<< /Title %s >>" % _literal(title))
        info = " /Info %d 0 R" % len(objects)
    out = b"%PDF-1.4\n"
    offsets = []
    for i, body in enumerate(objects):
        offsets.append(len(out))
        out += ("%d 0 obj\n%s\nendobj\n" % (i + 1, body)).encode("latin-1")
    xref = len(out)
    out += ("xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)).encode()
    out += "".join("%010d 00000 n \n" % off for off in offsets).encode()
    out += ("trailer\n<< /Size %d /Root 1 0 R%s%s >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objects) + 1, info, trailer_extra, xref)).encode("latin-1")
    return out


# A standard security handler whose user password is not empty: opening needs a password.
ENCRYPTED_TRAILER = (" /Encrypt << /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P -44 >>"
                     " /ID [<0123456789ABCDEF0123456789ABCDEF> <0123456789ABCDEF0123456789ABCDEF>]"
                     % ("1" * 64, "2" * 64))
