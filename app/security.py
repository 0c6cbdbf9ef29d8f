from flask_appbuilder.security.sqla.manager import SecurityManager

from flask_appbuilder.exceptions import PasswordComplexityValidationError

from app.models.team import Member


def password_policy(password: str) -> None:
    """FAB_PASSWORD_COMPLEXITY_VALIDATOR: FAB's own password forms ("Alterar minha senha") apply
    the same policy as Equipe."""
    from app.services import DomainError
    from app.services.team import check_password

    try:
        check_password(password)
    except DomainError as exc:
        raise PasswordComplexityValidationError(exc.message) from None


class ConectaSecurityManager(SecurityManager):
    """FAB's security manager with our Member as the user model, and without FAB's own user,
    role and permission screens: members are managed in Equipe, roles are code (app.roles)."""

    user_model = Member

    def register_views(self):
        security_api = self.appbuilder.add_api(self.security_api)
        self.appbuilder.add_view_no_menu(self.userinfoeditview())
        self.auth_view = self.authdbview()
        self.appbuilder.add_view_no_menu(self.resetmypasswordview())
        self.appbuilder.add_view_no_menu(self.auth_view)
        if self.is_auth_limited:
            self.limiter.limit(self.auth_rate_limit, methods=["POST"])(self.auth_view.blueprint)
            # FAB limits only the login form; the API login is a password oracle just the same.
            self.limiter.limit(self.auth_rate_limit, methods=["POST"])(security_api.blueprint)
        # user_view (the "Perfil" link of the navbar) is set to the Equipe view by app.views.
