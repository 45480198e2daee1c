"""签字确认 page /s/<token> (CONTRACT §10): the job summary and a signature pad on a canvas.

POST with ``signature`` (a PNG as a data URL, or a file) and ``signer`` confirms the job like
确认完成; signing again, or with a changed token, changes nothing (4xx). No login: the random
token in the link names one completion of one ticket.
"""

from __future__ import annotations

import base64
import binascii
import re
from html import escape

from aiohttp import BodyPartReader, web

from bot import media
from bot.links import ticket_url
from core.errors import DomainError
from core.messages import Actor, Channel
from core.signoff.handlers import SignCompletion
from core.tickets.completion import resolve_round
from core.tickets.workflow import STATUS_ZH, Status
from core.uow import SqlUnitOfWork
from webhooks.bootstrap import action_secret
from webhooks.keys import SERVICES
from webhooks.pages import message, page
from webhooks.report import report_body

TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
MAX_IMAGE = 512 * 1024
PNG = b"\x89PNG\r\n\x1a\n"
DATA_URL = re.compile(r"^data:image/png;base64,([A-Za-z0-9+/=\s]+)$")

PAD = """
<form method="post" id="signform" class="card noprint">
<h2>签字确认</h2>
<p class="muted">请核对以上服务内容，在下方框内手写签名后提交。提交即表示确认完工。</p>
<canvas id="pad" width="600" height="200" aria-label="签名板"></canvas>
<button type="button" class="secondary" id="clear">重写</button>
<label for="signer">签字人姓名</label>
<input type="text" id="signer" name="signer" maxlength="50" required>
<input type="hidden" id="signature" name="signature">
<div class="error" id="sigerror" hidden>请先在框内签名</div>
<button type="submit">确认完工并提交签字</button>
</form>
<script>
(function(){
var c=document.getElementById('pad'),x=c.getContext('2d'),drawn=false,down=false;
function fit(){var r=c.getBoundingClientRect(),d=window.devicePixelRatio||1;
c.width=Math.round(r.width*d);c.height=Math.round(r.height*d);x.scale(d,d);
x.lineWidth=2.5;x.lineCap='round';x.lineJoin='round';x.strokeStyle='#111';}
fit();
function pos(e){var r=c.getBoundingClientRect(),t=e.touches?e.touches[0]:e;
return [t.clientX-r.left,t.clientY-r.top];}
function start(e){e.preventDefault();down=true;var p=pos(e);x.beginPath();x.moveTo(p[0],p[1]);}
function move(e){if(!down)return;e.preventDefault();var p=pos(e);x.lineTo(p[0],p[1]);x.stroke();
drawn=true;document.getElementById('sigerror').hidden=true;}
function end(){down=false;}
['mousedown','touchstart','pointerdown'].forEach(function(n){c.addEventListener(n,start);});
['mousemove','touchmove','pointermove'].forEach(function(n){c.addEventListener(n,move);});
['mouseup','mouseleave','touchend','pointerup'].forEach(function(n){c.addEventListener(n,end);});
document.getElementById('clear').onclick=function(){x.clearRect(0,0,c.width,c.height);
drawn=false;};
document.getElementById('signform').onsubmit=function(e){
if(!drawn){e.preventDefault();document.getElementById('sigerror').hidden=false;return;}
document.getElementById('signature').value=c.toDataURL('image/png');};
})();
</script>
"""


def _token(request: web.Request) -> str | None:
    token = request.match_info["token"]
    return token if TOKEN.match(token) else None


def _invalid() -> web.Response:
    return message("链接无效", "这个签字链接无效或已过期，请联系服务商。", status=404)


async def show(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    token = _token(request)
    if token is None:
        return _invalid()
    async with SqlUnitOfWork(services.engine) as uow:
        signoff = await uow.signoffs.get(token)
        ticket = await uow.tickets.get(signoff.ticket_id) if signoff else None
        if signoff is None or ticket is None:
            return _invalid()
        if signoff.signed_at is not None:
            return message("已签字", f"工单 {ticket.ref} 已签字确认，感谢您的配合。", status=409)
        if ticket.status is not Status.RESOLVED or signoff.round != resolve_round(ticket):
            status = STATUS_ZH[ticket.status]
            return message(
                "链接已失效", f"工单 {ticket.ref} 当前状态为“{status}”，无需签字。", status=409
            )
        title, body = await report_body(uow, ticket, services, signing=True)
    return page(title, body + PAD)


class BadForm(Exception):
    pass


def _png(raw: bytes | str) -> bytes:
    if isinstance(raw, str):
        m = DATA_URL.match(raw.strip())
        if not m:
            raise BadForm("签名应为 PNG 图片")
        try:
            raw = base64.b64decode("".join(m.group(1).split()), validate=True)
        except (binascii.Error, ValueError):
            raise BadForm("签名图片无法读取") from None
    if len(raw) > MAX_IMAGE:
        raise BadForm("签名图片过大")
    if not raw.startswith(PNG) or len(raw) < 67:
        raise BadForm("签名应为 PNG 图片")
    return raw


async def _read(request: web.Request) -> tuple[bytes, str]:
    signature: bytes | str | None = None
    signer = ""
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            data = await part.read(decode=True)
            if len(data) > MAX_IMAGE * 2:
                raise BadForm("签名图片过大")
            if part.name == "signature":
                signature = data if part.filename is not None else data.decode("ascii", "replace")
            elif part.name == "signer":
                signer = data.decode("utf-8", "replace")
    else:
        form = await request.post()
        raw = form.get("signature")
        signature = raw if isinstance(raw, str) else None
        signer = str(form.get("signer", "") or "")
    if signature is None or signature == "":
        raise BadForm("请先签名")
    return _png(signature), signer


async def sign(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    token = _token(request)
    if token is None:
        return _invalid()
    address = request.remote or "unknown"
    tries = await services.cache.incr(f"webform:sign:{address}", 1, ttl=3600.0)
    if tries > services.settings.web_forms.per_address_per_hour * 3:
        return message("提交过于频繁", "请稍后再试。", status=429)
    try:
        image, signer = await _read(request)
    except BadForm as exc:
        return message("签字未提交", str(exc), status=422)
    digest = services.relay.media_store.save(image)
    async with SqlUnitOfWork(services.engine) as uow:
        await media.record(
            uow.conn, platform="signature", media_id=digest, sha256=digest,
            content_type="image/png", size=len(image), at=services.clock.now(),
        )  # fmt: skip
        await uow.commit()
    actor = Actor(person_id="web", name=signer or "客户", channel=Channel.WEB)
    try:
        ticket = await services.bus.handle(
            SignCompletion(actor=actor, token=token, signer=signer, image_sha256=digest)
        )
    except DomainError as exc:
        return message("签字未成功", exc.message, status=exc.status)
    services.wake_outbox()
    link = ticket_url(
        services.settings.http.public_base_url, action_secret(services.settings), ticket.id
    )
    return page(
        f"已签字 {ticket.ref}",
        f'<h1>签字成功：工单 {escape(ticket.ref)}</h1><div class="card">'
        f'<div class="ok">感谢您的确认，工单 {escape(ticket.ref)} 已完成。</div>'
        f'<a class="button" href="{escape(link)}">查看服务报告单</a></div>',
    )


def setup_signing(app: web.Application) -> None:
    app.router.add_get("/s/{token}", show)
    app.router.add_post("/s/{token}", sign)
