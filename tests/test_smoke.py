"""The site answers, on whichever database the run uses."""


def test_landing_page_answers(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "Test Conversations" in response.get_data(as_text=True)


def test_unknown_page_is_themed_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)
