from flask import redirect, url_for
from flask_appbuilder import IndexView, expose
from flask_login import current_user


class HomeView(IndexView):
    """The landing page: agents go straight to their tickets, visitors to the login."""

    @expose("/")
    def index(self):
        if not current_user.is_authenticated:
            return redirect(url_for(self.appbuilder.sm.auth_view.endpoint + ".login"))
        chat = self.appbuilder.app.view_functions.get("ChatView.index")
        if chat is not None:
            return redirect(url_for("ChatView.index"))
        return self.render_template("appbuilder/index.html")

    @expose("/favicon.ico")
    def favicon(self):
        """Browsers ask every site for /favicon.ico (a 404 in every log otherwise): the icon the
        pages name (static/favicon.svg)."""
        return redirect(url_for("static", filename="favicon.svg"), code=301)


def register(appbuilder) -> None:  # the index view is registered by AppBuilder itself
    pass
