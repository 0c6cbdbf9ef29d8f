// "Sair" is a POST carrying the page's CSRF token (app.security.AuthDBView.logout): the menu's
// link, a GET that any other site could also cause, would only show the confirmation page.
(function () {
  "use strict";
  var script = document.getElementById("logout-post");
  if (!script) return;
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[href]") : null;
    if (!link || link.origin !== window.location.origin || link.pathname !== script.dataset.path) return;
    event.preventDefault();
    var form = document.createElement("form");
    form.method = "post";
    form.action = link.href;
    var token = document.createElement("input");
    token.type = "hidden";
    token.name = "csrf_token";
    token.value = script.dataset.csrf;
    form.appendChild(token);
    document.body.appendChild(form);
    form.submit();
  });
})();
