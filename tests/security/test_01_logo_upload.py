"""Issue 13, logo uploads: a partner admin's upload can never become a page on the portal's hosts.

Everything goes through the real brand page over HTTP (tenant routing, sessions, CSRF-exempt test
client, the real form and service) and the real /media/ route on another partner's host."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from PIL import Image

from tenants.models import AuditEvent, Partner

NORTHWIND = "northwind.localhost"
SOUTHPAW = "southpaw.localhost"
GENERATED_NAME = re.compile(r"^brand/logos/[0-9a-f]{32}\.(png|jpg|webp)$")
MEDIA_CSP = "sandbox; default-src 'none'"
HTML_PAYLOAD = b"<html><body><script>alert(document.domain)</script></body></html>"
SVG = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(document.domain)</script></svg>"


def _png(size: tuple[int, int] = (60, 20), colour: str = "#0E5E6F") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def _brand_post(client: Client, name: str, content: bytes, content_type: str = "image/png"):
    return client.post(
        "/brand/",
        {
            "name": "Northwind Commerce Partners",
            "primary_colour": "#0E5E6F",
            "accent_colour": "#F4B942",
            "logo": SimpleUploadedFile(name, content, content_type=content_type),
        },
    )


def _body(response) -> bytes:
    # Reading the test client's streaming content to the end also closes the file.
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def logos_dir() -> Iterator[Path]:
    """The logo directory under the test MEDIA_ROOT; files a test adds are removed after it."""
    directory = Path(settings.MEDIA_ROOT) / "brand" / "logos"
    directory.mkdir(parents=True, exist_ok=True)
    before = set(directory.iterdir())
    yield directory
    for path in set(directory.iterdir()) - before:
        path.unlink()


@pytest.fixture
def admin(world, host_client) -> Client:
    return host_client(NORTHWIND, world.partner_admin)


def _stored_logo(world) -> tuple[str, bytes]:
    logo = Partner.objects.get(pk=world.northwind.pk).logo
    with logo.open("rb") as handle:
        return logo.name, handle.read()


@pytest.mark.parametrize("upload_name", ["x.html", "x.htm", "x.svg", "logo.png"])
def test_png_with_html_appended_is_stored_as_a_clean_png_under_a_generated_name(world, admin, logos_dir, upload_name):
    original = _png()
    response = _brand_post(admin, upload_name, original + HTML_PAYLOAD, content_type="text/html")

    assert response.status_code == 302
    name, stored = _stored_logo(world)
    assert GENERATED_NAME.match(name), name
    assert name.endswith(".png")
    assert Path(upload_name).stem not in Path(name).stem
    assert stored.startswith(b"\x89PNG\r\n\x1a\n")
    assert b"<script" not in stored and b"<html" not in stored and b"alert" not in stored
    assert stored.endswith(b"IEND\xaeB`\x82")  # nothing after the PNG's last chunk
    with Image.open(io.BytesIO(stored)) as image, Image.open(io.BytesIO(original)) as source:
        assert (image.format, image.size) == ("PNG", (60, 20))
        assert image.convert("RGB").tobytes() == source.convert("RGB").tobytes()


def test_jpeg_comment_and_exif_are_dropped_and_it_stays_a_jpeg(world, admin, logos_dir):
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x010E] = "<script>alert(1)</script>"  # ImageDescription
    Image.new("RGB", (40, 30), "#F4B942").save(
        buffer, format="JPEG", comment=b"<script>alert(2)</script>", exif=exif.tobytes()
    )

    response = _brand_post(admin, "photo.html", buffer.getvalue() + HTML_PAYLOAD, content_type="image/jpeg")

    assert response.status_code == 302
    name, stored = _stored_logo(world)
    assert GENERATED_NAME.match(name) and name.endswith(".jpg")
    assert stored.startswith(b"\xff\xd8") and stored.endswith(b"\xff\xd9")
    assert b"script" not in stored and b"Exif" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert (image.format, image.size) == ("JPEG", (40, 30))
        assert "comment" not in image.info and "exif" not in image.info


def test_gif_is_stored_as_png(world, admin, logos_dir):
    buffer = io.BytesIO()
    Image.new("P", (16, 16), 3).save(buffer, format="GIF", comment=b"<script>alert(3)</script>")

    assert _brand_post(admin, "anim.gif", buffer.getvalue(), content_type="image/gif").status_code == 302

    name, stored = _stored_logo(world)
    assert name.endswith(".png") and stored.startswith(b"\x89PNG") and b"script" not in stored


def _field_errors(response) -> list[str]:
    assert response.status_code == 200
    return response.context["form"].errors.get("logo", [])


def test_svg_is_a_field_error_and_nothing_is_stored(world, admin, logos_dir):
    before = set(logos_dir.iterdir())

    response = _brand_post(admin, "logo.svg", SVG, content_type="image/svg+xml")

    assert _field_errors(response) == ["The file is not a PNG, JPEG, WebP or GIF image."]
    assert Partner.objects.get(pk=world.northwind.pk).logo.name == world.northwind.logo.name
    assert set(logos_dir.iterdir()) == before


def test_html_file_is_a_field_error(world, admin, logos_dir):
    before = set(logos_dir.iterdir())

    response = _brand_post(admin, "x.html", HTML_PAYLOAD, content_type="text/html")

    assert _field_errors(response) == ["The file is not a PNG, JPEG, WebP or GIF image."]
    assert set(logos_dir.iterdir()) == before


def test_image_in_a_refused_format_is_a_field_error(world, admin, logos_dir):
    buffer = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buffer, format="BMP")

    response = _brand_post(admin, "logo.bmp", buffer.getvalue(), content_type="image/bmp")

    assert _field_errors(response) == ["BMP images are not accepted; use PNG, JPEG, WebP or GIF."]


def test_too_large_file_is_a_field_error(world, admin, logos_dir):
    noise = Image.frombytes("RGB", (600, 600), os.urandom(600 * 600 * 3))
    buffer = io.BytesIO()
    noise.save(buffer, format="PNG")
    assert buffer.tell() > settings.BRAND_LOGO_MAX_BYTES

    response = _brand_post(admin, "big.png", buffer.getvalue())

    assert _field_errors(response) == [f"The file is {buffer.tell() // 1024} KB; the limit is 512 KB."]


def test_too_many_pixels_is_a_field_error(world, admin, logos_dir):
    response = _brand_post(admin, "wide.png", _png((3000, 10)))

    assert _field_errors(response) == ["The image is 3000x10 px; the limit is 2048x2048."]


# ---- /media/ ---------------------------------------------------------------------------------


def test_uploaded_logo_is_served_as_an_image_with_nosniff_and_a_sandbox_on_another_partners_host(
    world, admin, logos_dir
):
    assert _brand_post(admin, "x.html", _png() + HTML_PAYLOAD, content_type="text/html").status_code == 302
    name, stored = _stored_logo(world)

    response = Client(HTTP_HOST=SOUTHPAW).get(f"/media/{name}")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == MEDIA_CSP
    assert "Content-Disposition" not in response or "attachment" not in response["Content-Disposition"]
    assert _body(response) == stored


@pytest.mark.parametrize(
    ("legacy_name", "content"),
    [
        ("x.html", _png() + HTML_PAYLOAD),
        ("x.htm", _png() + HTML_PAYLOAD),
        ("x.svg", SVG),
        ("x.txt", b"plain"),
        ("x", HTML_PAYLOAD),
    ],
)
def test_a_stored_file_of_any_other_type_is_a_sandboxed_download(world, logos_dir, legacy_name, content):
    # A file left by the old upload code, stored under the uploader's name.
    (logos_dir / legacy_name).write_bytes(content)

    for host in (SOUTHPAW, NORTHWIND, world.host(world.cedar), "localhost"):
        response = Client(HTTP_HOST=host).get(f"/media/brand/logos/{legacy_name}")

        assert response.status_code == 200
        assert response["Content-Type"] == "application/octet-stream"
        assert response["Content-Disposition"].startswith("attachment")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Security-Policy"] == MEDIA_CSP
        assert _body(response) == content


@pytest.mark.parametrize(
    "path", ["/media/../portal/settings/base.py", "/media/%2e%2e/manage.py", "/media/brand/logos/", "/media/nope.png"]
)
def test_media_outside_the_media_root_or_missing_is_404(world, path):
    response = Client(HTTP_HOST=SOUTHPAW).get(path)

    assert response.status_code == 404


def test_media_refuses_writes(world, logos_dir):
    (logos_dir / "a.png").write_bytes(_png())

    assert Client(HTTP_HOST=SOUTHPAW).post("/media/brand/logos/a.png").status_code == 405


# ---- Content-Security-Policy on pages ----------------------------------------------------------

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)


def _script_src(header: str) -> str:
    directives = dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    return directives["script-src"]


@pytest.mark.parametrize(
    ("who", "host", "path"),
    [
        ("partner_admin", NORTHWIND, "/brand/"),
        ("partner_admin", NORTHWIND, "/tenants/"),
        ("acme_admin", "acme.northwind.localhost", "/"),
        ("acme_admin", "acme.northwind.localhost", "/exceptions/"),
        ("acme_admin", "acme.northwind.localhost", "/promotions/"),
        ("acme_admin", "acme.northwind.localhost", "/inventory/"),
        (None, NORTHWIND, "/accounts/login/"),
    ],
)
def test_pages_carry_a_csp_without_inline_script(world, host_client, who, host, path):
    client = host_client(host, getattr(world, who) if who else None)

    response = client.get(path)

    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert _script_src(policy) == "'self'"
    assert "default-src 'self'" in policy and "object-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    html = response.content.decode()
    assert INLINE_SCRIPT.findall(html) == []
    assert INLINE_HANDLER.findall(html) == []


def test_api_browsers_load_their_script_from_urls_and_only_they_allow_the_cdn(world, host_client):
    client = host_client(NORTHWIND, world.partner_admin)

    swagger = client.get("/api/v1/schema/swagger/")
    script = client.get("/api/v1/schema/swagger/?script=")
    redoc = client.get("/api/v1/schema/redoc/")
    page = client.get("/brand/")

    assert (swagger.status_code, script.status_code, redoc.status_code) == (200, 200, 200)
    assert INLINE_SCRIPT.findall(swagger.content.decode()) == []
    assert script["Content-Type"].startswith("application/javascript")
    assert _script_src(swagger["Content-Security-Policy"]) == "'self' https://cdn.jsdelivr.net"
    assert _script_src(redoc["Content-Security-Policy"]) == "'self' https://cdn.jsdelivr.net"
    assert "jsdelivr" not in page["Content-Security-Policy"]


# ---- logos stored before re-encoding -----------------------------------------------------------


def test_logos_reencode_command_cleans_up_logos_stored_under_the_uploaders_name(
    world, logos_dir, django_capture_on_commit_callbacks
):
    (logos_dir / "x.html").write_bytes(_png() + HTML_PAYLOAD)
    (logos_dir / "y.svg").write_bytes(SVG)
    Partner.objects.filter(pk=world.northwind.pk).update(logo="brand/logos/x.html")
    Partner.objects.filter(pk=world.southpaw.pk).update(logo="brand/logos/y.svg")
    out = io.StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("logos_reencode", stdout=out)

    northwind = Partner.objects.get(pk=world.northwind.pk)
    assert GENERATED_NAME.match(northwind.logo.name) and northwind.logo.name.endswith(".png")
    with northwind.logo.open("rb") as handle:
        assert b"<script" not in handle.read()
    assert Partner.objects.get(pk=world.southpaw.pk).logo.name == ""
    assert not (logos_dir / "x.html").exists() and not (logos_dir / "y.svg").exists()
    assert out.getvalue().splitlines() == [
        "northwind: reencoded",
        "southpaw: removed",
        "Logos: 1 reencoded, 1 removed.",
    ]
    actions = AuditEvent.objects.filter(action__startswith="partner.logo_").values_list("partner__slug", "action")
    assert sorted(actions) == [("northwind", "partner.logo_reencode"), ("southpaw", "partner.logo_remove")]

    again = io.StringIO()
    call_command("logos_reencode", stdout=again)
    assert again.getvalue().splitlines() == ["Logos: 1 kept."]
    assert Partner.objects.get(pk=world.northwind.pk).logo.name == northwind.logo.name


def test_the_api_takes_no_logo_upload(world, admin):
    as_json = admin.patch("/api/v1/brand/", {"logo": "x.html"}, content_type="application/json")
    boundary = "BoUnDaRy"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="logo"; filename="x.html"\r\n'
            f"Content-Type: text/html\r\n\r\n"
        ).encode()
        + _png()
        + HTML_PAYLOAD
        + f"\r\n--{boundary}--\r\n".encode()
    )
    as_file = admin.patch("/api/v1/brand/", body, content_type=f"multipart/form-data; boundary={boundary}")

    assert as_json.status_code == 400
    assert list(as_json.json()["error"]["details"]) == ["logo"]
    assert as_file.status_code == 415
    assert Partner.objects.get(pk=world.northwind.pk).logo.name == ""


def test_no_template_carries_an_inline_script_or_handler():
    """The CSP forbids inline script; a template that adds one (an `onsubmit=` confirm, say) would
    be silently broken in the browser. Behaviours go in static/js with data attributes instead."""
    from django.conf import settings

    offenders = []
    for directory in settings.TEMPLATES[0]["DIRS"]:
        for template in Path(directory).rglob("*.html"):
            text = template.read_text()
            if INLINE_SCRIPT.search(text) or INLINE_HANDLER.search(text):
                offenders.append(str(template.relative_to(directory)))
    assert offenders == []
