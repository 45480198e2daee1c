"""The article page /kb/<id>: plain, mobile-first HTML for the DingTalk and WeCom in-app
browsers, with a "did this help" vote.

The page needs no login (it is linked from chat cards); only published articles are shown.
A vote needs the signed one-time token of a page view (a blind POST, or the same token twice,
counts nothing).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import secrets

from aiohttp import web

from core.kb.model import ARTICLE_ID, Article, ArticleStatus, EventKind
from core.uow import SqlUnitOfWork
from webhooks.bootstrap import action_secret
from webhooks.keys import SERVICES

VOTE_TTL_S = 30 * 86400
_STYLE = """
body{margin:0;font:16px/1.7 -apple-system,"PingFang SC","Microsoft YaHei",sans-serif;
color:#1f2329;background:#f5f6f7}main{max-width:720px;margin:0 auto;padding:16px;background:#fff;
min-height:100vh;box-sizing:border-box}h1{font-size:20px;line-height:1.4;margin:4px 0 8px}
.meta{color:#8f959e;font-size:13px}.tag{display:inline-block;background:#eef3ff;color:#3370ff;
border-radius:4px;padding:0 6px;margin:0 4px 4px 0;font-size:13px}p{margin:0 0 10px;
word-break:break-word}form{margin-top:24px;padding-top:16px;border-top:1px solid #e5e6eb}
button{font-size:16px;padding:10px 20px;margin:6px 8px 0 0;border-radius:6px;border:1px solid
#d0d3d6;background:#fff}button.yes{background:#3370ff;color:#fff;border-color:#3370ff}
"""


def _page(title: str, inner: str, status: int = 200) -> web.Response:
    doc = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{inner}</main></body></html>"
    )
    return web.Response(text=doc, status=status, content_type="text/html", charset="utf-8")


def _not_found() -> web.Response:
    return _page("未找到", "<h1>没有找到这篇文章</h1><p>它可能已被删除或尚未发布。</p>", 404)


def _sign(secret: bytes, article_id: str, nonce: str) -> str:
    mac = hmac.new(secret, f"kbvote:{article_id}:{nonce}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def _body_html(article: Article) -> str:
    paragraphs = [p.strip() for p in article.body.splitlines() if p.strip()]
    return "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)


async def _published(request: web.Request) -> Article | None:
    article_id = request.match_info["article_id"]
    if not ARTICLE_ID.match(article_id):
        return None
    async with SqlUnitOfWork(request.app[SERVICES].engine) as uow:
        article = await uow.kb.get(article_id)
    return article if article and article.status is ArticleStatus.PUBLISHED else None


async def article_page(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    article = await _published(request)
    if article is None:
        return _not_found()
    async with SqlUnitOfWork(services.engine) as uow:
        await uow.kb.bump(article.id, "views")
        await uow.kb.record(EventKind.VIEW, at=services.clock.now(), article_id=article.id)
        await uow.commit()
    nonce = secrets.token_urlsafe(12)
    token = f"{nonce}.{_sign(action_secret(services.settings), article.id, nonce)}"
    tags = "".join(f'<span class="tag">{html.escape(t)}</span>' for t in article.tags)
    product = f"{html.escape(article.product)} · " if article.product else ""
    inner = (
        f"<h1>{html.escape(article.title)}</h1>"
        f'<div class="meta">{product}编号 {html.escape(article.id)} · 阅读 {article.views + 1}</div>'
        f"<div>{tags}</div>{_body_html(article)}"
        f'<form method="post" action="/kb/{html.escape(article.id)}/vote">'
        f'<input type="hidden" name="token" value="{html.escape(token)}">'
        "<div>这篇文章对您有帮助吗？</div>"
        '<button class="yes" name="vote" value="yes" type="submit">有帮助</button>'
        '<button name="vote" value="no" type="submit">没有帮助</button></form>'
    )
    return _page(article.title, inner)


async def vote(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    article = await _published(request)
    if article is None:
        return _not_found()
    try:
        form = await request.post()
    except ValueError:
        form = {}  # type: ignore[assignment]
    choice, token = str(form.get("vote", "")), str(form.get("token", ""))
    nonce, _, mac = token.partition(".")
    expected = _sign(action_secret(services.settings), article.id, nonce)
    if choice not in ("yes", "no") or not nonce or not hmac.compare_digest(mac, expected):
        return _page("无效的投票", "<h1>无法记录这次反馈</h1><p>请刷新文章页面后再试。</p>", 400)
    if not await services.cache.add_if_absent(f"kbvote:{nonce}", VOTE_TTL_S):
        return _page("已反馈", "<h1>您已经反馈过了</h1><p>谢谢！</p>")
    kind = EventKind.HELPFUL if choice == "yes" else EventKind.UNHELPFUL
    async with SqlUnitOfWork(services.engine) as uow:
        await uow.kb.bump(article.id, "helpful" if choice == "yes" else "unhelpful")
        await uow.kb.record(kind, at=services.clock.now(), article_id=article.id)
        await uow.commit()
    back = f'<p><a href="/kb/{html.escape(article.id)}">返回文章</a></p>'
    text = (
        "很高兴能帮到您。"
        if choice == "yes"
        else "我们会改进这篇文章。如仍需处理，请在聊天中报修。"
    )
    return _page("谢谢反馈", f"<h1>谢谢您的反馈</h1><p>{text}</p>{back}")


def setup_kb_pages(app: web.Application) -> None:
    app.router.add_get("/kb/{article_id}", article_page)
    app.router.add_post("/kb/{article_id}/vote", vote)
