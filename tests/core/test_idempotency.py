"""``Idempotency-Key``: a retried POST returns the first answer and writes nothing new."""

import pytest

from accounts.models import User
from core.models import IdempotentRequest
from pledges.models import Pledge
from tests.concurrency import run_in_threads, sequence_numbers
from tests.conftest import client_for
from tests.factories import MatterFactory, make_resident, pledge_body

URL = "/api/v1/pledges/"


def post(client, body, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(URL, body, format="json", **headers)


@pytest.mark.django_db
def test_a_retry_with_the_same_key_replays_the_first_answer(resident):
    client = client_for(resident)
    body = pledge_body(resident, MatterFactory())
    first = post(client, body, "retry-1")
    second = post(client, body, "retry-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert Pledge.objects.count() == 1
    assert IdempotentRequest.objects.get().body["number"] == first.json()["number"]


@pytest.mark.django_db
def test_a_different_key_or_no_key_makes_a_new_pledge(resident):
    client = client_for(resident)
    body = pledge_body(resident, MatterFactory())
    numbers = {
        post(client, body, "a").json()["number"],
        post(client, body, "b").json()["number"],
        post(client, body).json()["number"],
        post(client, body).json()["number"],
    }
    assert len(numbers) == 4


@pytest.mark.django_db
def test_keys_belong_to_one_account(resident, staff):
    matter = MatterFactory()
    mine = post(client_for(resident), pledge_body(resident, matter), "shared-key")
    clerk = post(client_for(staff["window_clerk"]), pledge_body(resident, matter), "shared-key")
    assert mine.status_code == clerk.status_code == 201
    assert mine.json()["number"] != clerk.json()["number"]


@pytest.mark.django_db
def test_a_refused_request_is_not_remembered(resident):
    client = client_for(resident)
    matter = MatterFactory()
    refused = post(client, pledge_body(resident, matter, statements_accepted=False), "k1")
    assert refused.status_code == 400
    assert not IdempotentRequest.objects.exists()
    fixed = post(client, pledge_body(resident, matter), "k1")
    assert fixed.status_code == 201
    assert Pledge.objects.count() == 1


@pytest.mark.django_db
def test_anonymous_requests_with_a_key_are_still_refused(resident):
    response = post(client_for(None), pledge_body(resident, MatterFactory()), "anon")
    assert response.status_code == 401
    assert not IdempotentRequest.objects.exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_retries_with_one_key_sign_once_and_leave_no_gap(shared_database):
    user_id = make_resident("retrier").pk
    matter = MatterFactory()
    answers = []

    def work(index):
        user = User.objects.get(pk=user_id)
        response = post(client_for(user), pledge_body(user, matter), "same-key")
        answers.append((response.status_code, response.json()["number"]))

    assert run_in_threads(6, work) == []
    assert len(answers) == 6
    assert {status for status, _ in answers} == {201}
    assert len({number for _, number in answers}) == 1
    assert Pledge.objects.count() == 1

    user = User.objects.get(pk=user_id)
    post(client_for(user), pledge_body(user, matter), "next-key")
    numbers = Pledge.objects.values_list("number", flat=True)
    assert sequence_numbers(numbers) == [1, 2]
