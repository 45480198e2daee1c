"""The sandbox (CONTRACT §8): a demo workspace played in the browser through the real webhooks.

Only the webhooks ring knows about it: the demo settings point the real WeCom and DingTalk
adapters at fake platform APIs mounted in the same process (``fake_wecom``, ``fake_dingtalk``),
and the page's messages and clicks reach chatdesk as signed, encrypted callbacks (``callbacks``).
"""
