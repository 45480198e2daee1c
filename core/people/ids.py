"""Platform user ids: each platform's rules, checked wherever an id enters chatdesk.

An id always names ONE person. WeCom's ``touser`` reads ``a|b|c`` as a list and ``@all`` as the
whole company, so neither may ever be taken for a user id (reference/wecom.md §1, §6).

* WeCom userid: 1-64 characters of ``0-9 A-Z a-z _ - @ .``, the first a letter or digit.
* DingTalk userId (staffId): 1-64 characters of ``0-9 A-Z a-z _ - .``, the first a letter or
  digit; an external member without a staffId is known by the robot's ``senderId``
  (``$:LWCP_v1:$`` + base64).
* ``api`` (a requester known only to the REST caller): 1-128 printable characters, never sent.
"""

from __future__ import annotations

import re

_RULES: dict[str, re.Pattern[str]] = {
    "wecom": re.compile(r"[0-9A-Za-z][0-9A-Za-z_\-@.]{0,63}"),
    "dingtalk": re.compile(
        r"[0-9A-Za-z][0-9A-Za-z_\-.]{0,63}|\$:LWCP_v1:\$[0-9A-Za-z+/=_\-]{1,128}"
    ),
    "api": re.compile(r"[^\x00-\x20\x7f|]{1,128}"),
}
RULE_ZH = {
    "wecom": "企业微信 userid 为 1–64 个字母、数字或 _-@.，以字母或数字开头",
    "dingtalk": "钉钉 userId 为 1–64 个字母、数字或 _-.，以字母或数字开头",
    "api": "user_id 为 1–128 个可见字符，不含空白和 |",
}


def valid_user_id(platform: str, user_id: str) -> bool:
    """True when ``user_id`` is one person's id on ``platform`` (never a list or wildcard)."""
    rule = _RULES.get(platform)
    return rule is not None and isinstance(user_id, str) and rule.fullmatch(user_id) is not None


def check_user_id(platform: str, user_id: str) -> str:
    """``user_id`` unchanged, or ValueError naming the platform's rule."""
    if not valid_user_id(platform, user_id):
        raise ValueError(RULE_ZH.get(platform, f"unknown platform {platform}"))
    return user_id
