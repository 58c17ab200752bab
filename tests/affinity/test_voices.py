"""Stored voices (`voice_...`, the Voices API) follow the key whose project stores them
(handler/affinity/voices.py), through the native Voices API, a native TTS call and
/audio/speech, whichever key the request's pick starts with.

The fake keeps each key's voices apart (tests/fake_speech.py): another project's
`voice_...` gets Google's 404, as a TTS voice too.
"""

from __future__ import annotations

import httpx
import pytest

from handler.affinity import binding as affinity

from ..clients import openai_client
from ..conftest import KEY_A, KEY_B

BOTH = f"{KEY_A},{KEY_B}"
TTS = "/v1beta/models/gemini-3.8-flash-tts:generateContent"


def create_voice(proxy: str, keys: str, store: bool = True) -> dict:
    body = {"store": store, "voice": {"type": "replicated", "display_name": "Narrator"}}
    r = httpx.post(proxy + "/v1beta/voices", json=body, headers={"x-goog-api-key": keys})
    assert r.status_code == 200, r.text
    return r.json()


def tts_body(voice: str) -> dict:
    return {
        "contents": [{"role": "user", "parts": [{"text": "Hello"}]}],
        "generationConfig": {"responseModalities": ["AUDIO"], "speechConfig": {"voiceConfig": {"voice": voice}}},
    }


@pytest.mark.parametrize("first", [KEY_A, KEY_B])
def test_a_voice_made_with_key_a_works_whichever_key_comes_first(proxy, fake, cooldown, first):
    voice = create_voice(proxy, KEY_A)["id"]
    google_id = voice[: -affinity.TAG_LENGTH]
    assert voice == google_id + affinity.tag(KEY_A) and fake.speech.voices[google_id][0] == KEY_A
    cooldown.cool(KEY_B if first == KEY_A else KEY_A, 60)  # `first` is tried first
    fake.received.clear()

    got = httpx.get(proxy + f"/v1beta/voices/{voice}", headers={"x-goog-api-key": BOTH})
    assert got.status_code == 200 and got.json()["id"] == voice  # the answer keeps the tag
    native = httpx.post(proxy + TTS, json=tts_body(voice), headers={"x-goog-api-key": BOTH})
    assert native.status_code == 200, native.text
    audio = openai_client(proxy + "/v1", BOTH).audio.speech.create(
        model="tts-1", voice={"id": voice}, input="Hello", response_format="pcm"
    )
    assert len(audio.content) > 0
    sent = [c for c in fake.received if c.path != "/v1beta/models"]  # not the model list (TTS_MODEL is a family)
    assert [c.key for c in sent] == [KEY_A] * 3  # one call each, all on the owner
    tts_calls = sent[1:]
    voices = [c.json["generationConfig"]["speechConfig"]["voiceConfig"]["voice"] for c in tts_calls]
    assert voices == [google_id, google_id]  # Google's own ID upstream


def test_a_voice_id_from_google_is_found_on_its_key(proxy, fake, cooldown):
    google_id = create_voice(proxy, KEY_B)["id"][: -affinity.TAG_LENGTH]
    cooldown.cool(KEY_B, 60)  # KEY_A first: the wrong project
    fake.received.clear()
    r = httpx.post(proxy + TTS, json=tts_body(google_id), headers={"x-goog-api-key": BOTH})
    assert r.status_code == 200, r.text
    assert fake.received[-1].key == KEY_B  # looked up with metadata GETs, then called there


def test_list_delete_and_other_projects(proxy, fake):
    mine = create_voice(proxy, KEY_A)["id"]
    create_voice(proxy, KEY_B)
    listed = httpx.get(proxy + "/v1beta/voices", headers={"x-goog-api-key": KEY_A}).json()["voices"]
    assert [v["id"] for v in listed] == [mine]
    other = httpx.get(proxy + f"/v1beta/voices/{mine}", headers={"x-goog-api-key": KEY_B})
    assert other.status_code == 404  # a tag of no key of this request: Google's own answer
    key = create_voice(proxy, KEY_A, store=False)["key"]
    assert key.startswith("voicekey_")  # stateless: no tag, any key
    r = httpx.post(proxy + TTS, json=tts_body(key), headers={"x-goog-api-key": KEY_B})
    assert (
        r.status_code == 200
        and fake.received[-1].json["generationConfig"]["speechConfig"]["voiceConfig"]["voice"] == key
    )
    gone = httpx.delete(proxy + f"/v1beta/voices/{mine}", headers={"x-goog-api-key": BOTH})
    assert gone.status_code == 200 and fake.speech.voices.get(mine[: -affinity.TAG_LENGTH]) is None
