"""What the knowledge base says to people (Chinese first, short, naming the ticket as #n)."""

from __future__ import annotations

OFFER_TITLE = "工单 {ref} 已完工"
DRAFTED = "工单 {ref} 的处理方法已存为知识草稿 {article}，客服审核后发布。"
DRAFTED_FOR_AGENTS = (
    "{name} 把工单 {ref} 的处理方法存为了知识草稿 {article}：{title}。请审核后发布。"
)
ALREADY_DRAFTED = "工单 {ref} 已经存为知识 {article}，无需重复保存。"
NOT_RESOLVED = "工单 {ref} 当前状态为“{status}”，完工后才能存为知识。"
NOT_ALLOWED = "抱歉，只有处理工单 {ref} 的工程师或客服、主管可以把它存为知识。"
CARD_STATUS = "{name} 已存为知识草稿 {article}"
TBD = "（待补充）"
