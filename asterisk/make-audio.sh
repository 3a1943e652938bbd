#!/usr/bin/env bash
# Regenerates the committed audio from text with espeak-ng (Debian package espeak-ng) and sox.
# The files are committed so the lab and a dealer's PBX need neither tool; rerun this only to
# change a text. Output is headerless 8 kHz mu-law (.ulaw): Asterisk's format_pcm plays it, and
# SIPp's rtp_stream sends it as PCMU without conversion.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# speak NAME TEXT: one utterance as 8 kHz mono 16-bit wav in $tmp/NAME.wav
speak() {
  espeak-ng -v cmn -s 170 -w "$tmp/$1.raw.wav" "$2"
  sox "$tmp/$1.raw.wav" -r 8000 -c 1 -b 16 "$tmp/$1.wav"
}
# silence NAME SECONDS
silence() {
  sox -n -r 8000 -c 1 -b 16 "$tmp/$1.wav" trim 0 "$2"
}
# ulaw OUT PARTS...: concatenate parts into headerless mu-law
ulaw() {
  local out="$1"; shift
  local parts=()
  for p in "$@"; do parts+=("$tmp/$p.wav"); done
  sox "${parts[@]}" -t ul "$out"
}

# What the PBX plays.
speak abandon "您好，现在坐席繁忙，我们稍后给您回电。"
speak welcome "您好，欢迎致电客户中心，正在为您转接坐席，请稍候。"
ulaw "$here/sounds/dcc-abandon.ulaw" abandon
ulaw "$here/sounds/dcc-welcome.ulaw" welcome

# What the simulated parties say. A person answers with two short words and then waits
# (answering-machine detection must hear a short greeting followed by silence to say HUMAN);
# a machine talks on without a pause (it must say MACHINE).
speak hello "喂"
speak question "嗯，我想了解一下新车的价格，最近有什么优惠活动吗？"
speak machine "您好，您拨打的用户暂时无法接听您的电话，请在提示音后留言，留言结束后请直接挂机，谢谢您的来电，再见。"
speak agent "您好，这里是汽车经销商客户中心，我是您的专属顾问，请问现在方便通话吗？"
silence pause1 1
silence pause3 3
ulaw "$here/sipp/audio/customer.ulaw" hello pause3 question pause1
ulaw "$here/sipp/audio/machine.ulaw" machine pause1
ulaw "$here/sipp/audio/phone.ulaw" agent pause1
