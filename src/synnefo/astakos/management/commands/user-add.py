from django.core.management.base import BaseCommand, CommandError

from synnefo.astakos.logic import tokens, users


class Command(BaseCommand):
    help = "Create a user (verified and accepted). Prints the password if one was generated, and the API token."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("first_name")
        parser.add_argument("last_name")
        parser.add_argument("--password", help="The password (default: a random one, printed)")
        parser.add_argument("--affiliation", default="")
        parser.add_argument("--admin", action="store_true", help="Make the user an administrator (type ADMIN)")
        parser.add_argument("--inactive", action="store_true", help="Create the account inactive")

    def handle(self, *args, **options):
        password = options["password"] or users.random_password()
        try:
            user = users.create_user(
                options["email"],
                options["first_name"],
                options["last_name"],
                password=password,
                affiliation=options["affiliation"],
                admin=options["admin"],
                active=not options["inactive"],
            )
        except users.UserError as exc:
            raise CommandError(str(exc)) from None
        token, _ = tokens.renew_main_token(user)
        self.stdout.write(f"Created user {user.pk} ({user.email}), uuid {user.uuid}")
        if not options["password"]:
            self.stdout.write(f"password: {password}")
        self.stdout.write(f"token: {token}")
