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
  sox -D "$tmp/$1.raw.wav" -r 8000 -c 1 -b 16 "$tmp/$1.wav"
}
# silence NAME SECONDS
silence() {
  sox -D -n -r 8000 -c 1 -b 16 "$tmp/$1.wav" trim 0 "$2"
}
# ulaw OUT PARTS...: concatenate parts into headerless mu-law
ulaw() {
  local out="$1"; shift
  local parts=()
  for p in "$@"; do parts+=("$tmp/$p.wav"); done
  sox -D "${parts[@]}" -t ul "$out"
}

# What the PBX plays.
speak abandon "您好，现在坐席繁忙，我们稍后给您回电。"
speak welcome "您好，欢迎致电客户中心，正在为您转接坐席，请稍候。"
ulaw "$here/sounds/dcc-abandon.ulaw" abandon
ulaw "$here/sounds/dcc-welcome.ulaw" welcome

# What the simulated parties say. People on Chinese mobiles answer with a short greeting and then
# wait for the caller to speak; the lab's customers do the same, with greetings of one to four
# words (docs/telephony.md, "Answering-machine detection"). Never shorten a greeting so that the
# product passes: the lab models the world. A machine talks on without waiting (a voicemail
# greeting).
speak hello1 "喂？"
speak hello2 "喂，你好。"
speak hello3 "喂，你好，哪位？"
speak hello4 "喂，你好，请问哪位？"
speak question "嗯，我想了解一下新车的价格，最近有什么优惠活动吗？"
speak machine "您好，您拨打的用户暂时无法接听您的电话，请在提示音后留言，留言结束后请直接挂机，谢谢您的来电，再见。"
speak agent "您好，这里是汽车经销商客户中心，我是您的专属顾问，请问现在方便通话吗？"
silence pause1 1
silence pause3 3
# The ordinary customer (behaviour "answer") says the everyday two-word greeting.
ulaw "$here/sipp/audio/customer.ulaw" hello2 pause3 question pause1
ulaw "$here/sipp/audio/hello1.ulaw" hello1 pause3 question pause1
ulaw "$here/sipp/audio/hello3.ulaw" hello3 pause3 question pause1
ulaw "$here/sipp/audio/hello4.ulaw" hello4 pause3 question pause1
# Says nothing for 3 s (waits for the caller to speak first), then greets and asks.
ulaw "$here/sipp/audio/silent.ulaw" pause3 hello2 pause1 question pause1
ulaw "$here/sipp/audio/machine.ulaw" machine pause1
ulaw "$here/sipp/audio/phone.ulaw" agent pause1
