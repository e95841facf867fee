import factory

from accounts.models import User
from accounts.roles import Role
from accounts.services import user_create

TEST_PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    """Users are made through ``user_create``, so each gets its role's group as in real use."""

    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    full_name = factory.Faker("name", locale="ru_RU")
    role = Role.HUNTER
    password = TEST_PASSWORD

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return user_create(**kwargs)
