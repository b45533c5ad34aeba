from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class UserManager(BaseUserManager["User"]):
    """Users are keyed by email; the same address in any casing is one person."""

    use_in_migrations = True

    def get_by_natural_key(self, email: str) -> "User":
        return self.get(email=email.strip().lower())

    def _create_user(self, email: str, password: str | None, **fields) -> "User":
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=email, **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "User":
        fields.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A reader with an account: member, past donor or newsroom staff.

    Email is the identity. It is stored lower-case (a database constraint) and
    unique, so `Reader@Example.org` and `reader@example.org` can never be two
    accounts, whatever path created them.
    """

    email = models.EmailField("email address", max_length=254, unique=True)
    display_name = models.CharField(
        max_length=150, blank=True, help_text="How we greet this person in emails and receipts."
    )
    is_staff = models.BooleanField(default=False, help_text="Can sign in to the newsroom's admin.")
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            # Unique + always lower-case = unique whatever the casing.
            models.CheckConstraint(
                condition=models.Q(email=Lower("email")), name="members_user_email_lowercase"
            ),
        ]

    def __str__(self) -> str:
        return self.email

    def save(self, *args, **kwargs) -> None:
        # Stored lower-case so lookups, Stripe customers and receipts agree.
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)

    def get_full_name(self) -> str:
        return self.display_name or self.email

    def get_short_name(self) -> str:
        return self.display_name or self.email.split("@")[0]
