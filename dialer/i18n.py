"""User-facing words in Chinese (default) and English.

One catalog per language; a key missing from a language falls back to English
so a half-translated screen still says something true. Code, logs and docs stay
English; only what a DCC user reads goes through here.
"""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_LANGUAGE = "zh-CN"
LANGUAGES = ("zh-CN", "en")

_CATALOGS: dict[str, dict[str, str]] = {
    "en": {
        "outcome.answered": "answered",
        "outcome.busy": "busy",
        "outcome.no_answer": "no answer",
        "outcome.rejected": "rejected",
        "outcome.congestion": "congestion",
        "outcome.vacant": "vacant number",
        "outcome.failed": "failed",
        "outcome.early_hangup": "hung up right after answering",
        "outcome.abandoned": "abandoned (no agent in time)",
        "outcome.machine": "answering machine",
        "outcome.unknown": "unknown",
        "col.number": "number",
        "col.outcome": "outcome",
        "col.cause": "hangup cause",
        "col.agent": "agent",
        "col.recording": "recording",
        "col.started": "started",
        "col.duration": "talk (s)",
        "col.id": "id",
        "call.waiting_line": "all {capacity} outbound lines in use; waiting for a free line",
        "call.lines_busy": "all {capacity} outbound lines are in use; try again later",
        "doctor.ok": "OK",
        "doctor.problem": "PROBLEM",
        "doctor.summary_ok": "everything the dialer needs is in place",
        "doctor.summary_bad": "{count} problem(s) found",
        "doctor.check.ami": "AMI login as {user} at {host}:{port}",
        "doctor.check.actions": "AMI permissions for the actions the dialer sends",
        "doctor.check.events": "AMI events reach the dialer",
        "doctor.check.module": "Asterisk module {module}",
        "doctor.check.context": "dialplan context {context}",
        "doctor.check.lines": "line limit {name} in the PBX (config says {expected})",
        "doctor.check.recording": "recording folder {path} is writable",
        "doctor.check.store": "store {path}",
        "doctor.fix.ami_connect": "cannot reach AMI: {error}. Is Asterisk running, and is manager.conf bound to this address and port?",
        "doctor.fix.ami_auth": "AMI refused the login: {error}. Check the user and secret in manager.conf and in DIALER__PBX__AMI_SECRET.",
        "doctor.fix.actions": "the AMI user may not run: {missing}. Add the write classes for them in manager.conf.",
        "doctor.fix.events": "no test event came back within {timeout}s: give the AMI user read = system,call,dialplan,user,agent,reporting.",
        "doctor.fix.module": "{module} is not loaded: add 'load => {module}.so' to modules.conf and restart Asterisk.",
        "doctor.fix.context": "context {context} is missing: install the dialer's extensions.conf (dialer pbx render).",
        "doctor.fix.lines": "the PBX says {actual}: render the configs again from this config so both limits agree.",
        "doctor.fix.recording": "cannot write there: {error}",
        "doctor.fix.store": "cannot open the store: {error}",
    },
    "zh-CN": {
        "outcome.answered": "已接通",
        "outcome.busy": "忙线",
        "outcome.no_answer": "无人接听",
        "outcome.rejected": "拒接",
        "outcome.congestion": "线路拥塞",
        "outcome.vacant": "空号",
        "outcome.failed": "呼叫失败",
        "outcome.early_hangup": "接通后立即挂断",
        "outcome.abandoned": "放弃（无坐席接听）",
        "outcome.machine": "语音信箱/答录机",
        "outcome.unknown": "未知",
        "col.number": "号码",
        "col.outcome": "结果",
        "col.cause": "挂机原因",
        "col.agent": "坐席",
        "col.recording": "录音",
        "col.started": "开始时间",
        "col.duration": "通话(秒)",
        "col.id": "编号",
        "call.waiting_line": "{capacity} 条外呼线路全部占用，正在等待空闲线路",
        "call.lines_busy": "{capacity} 条外呼线路全部占用，请稍后再试",
        "doctor.ok": "正常",
        "doctor.problem": "问题",
        "doctor.summary_ok": "外呼系统所需条件全部满足",
        "doctor.summary_bad": "发现 {count} 个问题",
        "doctor.check.ami": "AMI 登录（用户 {user}，{host}:{port}）",
        "doctor.check.actions": "AMI 用户执行外呼所需操作的权限",
        "doctor.check.events": "AMI 事件能送达外呼系统",
        "doctor.check.module": "Asterisk 模块 {module}",
        "doctor.check.context": "拨号方案 {context}",
        "doctor.check.lines": "交换机线路上限 {name}（配置为 {expected}）",
        "doctor.check.recording": "录音目录 {path} 可写",
        "doctor.check.store": "数据库 {path}",
        "doctor.fix.ami_connect": "无法连接 AMI：{error}。请确认 Asterisk 已启动，且 manager.conf 绑定了此地址和端口。",
        "doctor.fix.ami_auth": "AMI 拒绝登录：{error}。请核对 manager.conf 与 DIALER__PBX__AMI_SECRET 中的用户名和密码。",
        "doctor.fix.actions": "AMI 用户无权执行：{missing}。请在 manager.conf 中为其加上相应的 write 权限。",
        "doctor.fix.events": "{timeout} 秒内没有收到测试事件：请给 AMI 用户 read = system,call,dialplan,user,agent,reporting。",
        "doctor.fix.module": "{module} 未加载：请在 modules.conf 中加入 'load => {module}.so' 并重启 Asterisk。",
        "doctor.fix.context": "缺少拨号方案 {context}：请安装外呼系统的 extensions.conf（dialer pbx render）。",
        "doctor.fix.lines": "交换机中为 {actual}：请用当前配置重新生成交换机配置，使两处上限一致。",
        "doctor.fix.recording": "无法写入：{error}",
        "doctor.fix.store": "无法打开数据库：{error}",
    },
}


def translate(key: str, language: str = DEFAULT_LANGUAGE, **params: object) -> str:
    """The text for ``key`` in ``language`` with ``{params}`` filled in."""
    catalog: Mapping[str, str] = _CATALOGS.get(language, _CATALOGS["en"])
    text = catalog.get(key) or _CATALOGS["en"].get(key) or key
    return text.format(**params) if params else text
