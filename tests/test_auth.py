"""The shared-token check, as a contract every layer that checks tokens must pass."""

import pytest

from receiver.auth import TokenMismatch, check_token

from .builders import OLD_TOKEN, TOKEN, payload
from .stored import count


class TokenCheckContract:
    """Good, wrong, missing and rotated tokens; subclasses say how a request is checked."""

    def accepts(self, token: str | None) -> bool:
        raise NotImplementedError

    def test_good_token(self):
        assert self.accepts(TOKEN)

    def test_wrong_token(self):
        assert not self.accepts("not-the-token")

    def test_token_with_extra_characters(self):
        assert not self.accepts(TOKEN + " ")

    def test_prefix_of_token(self):
        assert not self.accepts(TOKEN[:-1])

    def test_missing_token(self):
        assert not self.accepts(None)

    def test_empty_token(self):
        assert not self.accepts("")

    def test_rotated_token(self):
        # During a rotation both the old and the new secret are accepted.
        assert self.accepts(OLD_TOKEN)


class TestCheckToken(TokenCheckContract):
    def accepts(self, token):
        try:
            check_token(token, (TOKEN, OLD_TOKEN))
        except TokenMismatch:
            return False
        return True

    def test_non_ascii_token(self):
        assert not self.accepts("tökén")


class TestWebhookToken(TokenCheckContract):
    @pytest.fixture(autouse=True)
    def _post(self, post, engine):
        self.post, self.engine = post, engine

    def accepts(self, token):
        before = count(self.engine, "events")
        response = self.post(payload("e-message-visitor"), token=token)
        stored = count(self.engine, "events") - before
        if response.status_code == 401:
            assert response.get_json()["success"] is False
            assert "X-RocketChat-Livechat-Token" in response.get_json()["error"]
            assert stored == 0, "a refused request must store nothing"
            return False
        assert response.status_code == 200
        return True
