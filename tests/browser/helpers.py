import shutil
import subprocess
import tempfile
from pathlib import Path

from playwright.sync_api import expect

from tests.factories import TEST_PASSWORD


def sign_in(page, username: str, password: str = TEST_PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Имя пользователя").fill(username)
    page.get_by_label("Пароль").fill(password)
    page.get_by_role("button", name="Войти").click()
    expect(page.locator("nav")).to_be_visible()


def answer_the_drawn_test(page, *, correctly: bool) -> None:
    """Ticks the answers to the questions the open test page asks (a draw from the bank), right or
    wrong ones, and sends the sheet."""
    from onboarding.models import Question

    names = page.locator("fieldset.question input").evaluate_all(
        "inputs => [...new Set(inputs.map(input => input.name))]"
    )
    assert names, "the test page asks no questions"
    questions = Question.objects.prefetch_related("choices").in_bulk([int(name[1:]) for name in names])
    for name in names:
        question = questions[int(name[1:])]
        for choice in question.choices.all():
            if choice.is_correct == correctly:
                page.locator(f"#c{choice.pk}").check()
                if question.kind == Question.Kind.SINGLE:
                    break
    page.get_by_role("button", name="Завершить тест").click()


def screenshot_dir() -> Path:
    from tests.browser.conftest import SCREENSHOT_DIR

    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENSHOT_DIR


def pdf_picture(data: bytes, path: Path) -> Path | None:
    """The PDF's first page as a PNG for the README, when poppler's pdftoppm is installed (Debian's
    poppler-utils); nothing otherwise: headless Chromium shows no PDF."""
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "statement.pdf"
        source.write_bytes(data)
        subprocess.run(
            [pdftoppm, "-png", "-r", "100", "-singlefile", source, Path(folder) / "page"], check=True
        )
        shutil.copyfile(Path(folder) / "page.png", path)
    return path


# A 390×844 touch phone, as the field work is done (the ``phone`` fixture's browser).
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "has_touch": True,
    "is_mobile": True,
    "device_scale_factor": 2,
}
