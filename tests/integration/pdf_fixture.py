"""Small valid PDFs written by the tests themselves (no binary fixtures): each page is lines of
text in Helvetica, one of the 14 standard fonts, so no font program is embedded. Mirrors
tests/ingest/pdf_builder.hpp for the black-box tests, plus owner-password encryption."""


def _literal(text):
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")
_FILE_ID = bytes.fromhex("0123456789ABCDEF0123456789ABCDEF")


def _rc4(key, data):
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)


class _OwnerOnlyEncryption:
    """The standard security handler, revision 2 (RC4, 40-bit key), with an owner password and
    an empty user password: any reader opens the file, only permissions are restricted. The
    algorithms are those of the PDF 1.4 reference (3.2, 3.3, 3.4 for O, the key and U)."""

    def __init__(self, owner_password, permissions=-44):
        import hashlib
        self.md5 = lambda data: hashlib.md5(data).digest()
        padded_owner = (owner_password.encode("latin-1") + _PAD)[:32]
        self.owner_entry = _rc4(self.md5(padded_owner)[:5], _PAD)
        self.key = self.md5(_PAD + self.owner_entry
                            + (permissions & 0xFFFFFFFF).to_bytes(4, "little") + _FILE_ID)[:5]
        self.user_entry = _rc4(self.key, _PAD)
        self.permissions = permissions

    def encrypt(self, number, data):
        object_key = self.md5(self.key + number.to_bytes(3, "little") + b"\0\0")[:10]
        return _rc4(object_key, data)

    def trailer(self):
        return (" /Encrypt << /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P %d >>"
                " /ID [<%s> <%s>]" % (self.owner_entry.hex(), self.user_entry.hex(),
                                      self.permissions, _FILE_ID.hex(), _FILE_ID.hex()))


def make_pdf(pages, title=None, trailer_extra="", owner_password=None):
    """`pages`: a list of pages, each a list of printed lines ("" leaves an empty line).
    Returns the file's bytes (Latin-1, which is WinAnsi for the characters tests use).
    `owner_password` encrypts the file so that only an owner may change it (opening needs no
    password)."""
    crypt = _OwnerOnlyEncryption(owner_password) if owner_password else None
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
        data = content.encode("latin-1")
        if crypt:
            data = crypt.encrypt(number + 1, data)
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(data), data))
        kids.append("%d 0 R" % number)
    objects[1] = "<< /Type /Pages /Kids [%s] /Count %d >>" % (" ".join(kids), len(pages))
    info = ""
    if title:
        if crypt:  # strings are encrypted too: written as hex
            text = crypt.encrypt(len(objects) + 1, title.encode("latin-1"))
            objects.append("<< /Title <%s> >>" % text.hex())
        else:
            objects.append("<< /Title %s >>" % _literal(title))
        info = " /Info %d 0 R" % len(objects)
    if crypt:
        trailer_extra += crypt.trailer()
    out = b"%PDF-1.4\n"
    offsets = []
    for i, body in enumerate(objects):
        offsets.append(len(out))
        body = body if isinstance(body, bytes) else body.encode("latin-1")
        out += b"%d 0 obj\n%s\nendobj\n" % (i + 1, body)
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
