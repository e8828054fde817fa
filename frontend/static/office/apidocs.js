// The API's documentation: django-ninja's Swagger UI (served locally) in the suite's shell.
// Mutating requests carry the CSRF token of the signed-in session.
const holder = document.querySelector(".api-docs");
const config = JSON.parse(document.getElementById("swagger-settings").textContent);
config.dom_id = "#swagger-ui";
config.deepLinking = false;  // no link inside each operation's summary button (axe: nested-interactive)
config.presets = [window.SwaggerUIBundle.presets.apis];
if (holder.dataset.apiCsrf && holder.dataset.csrfToken) {
  config.requestInterceptor = (req) => { req.headers["X-CSRFToken"] = holder.dataset.csrfToken; return req; };
}
window.SwaggerUIBundle(config);
