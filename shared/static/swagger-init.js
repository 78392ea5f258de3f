// Starts Swagger UI on a service's /docs page. A file rather than the usual inline script, so the page's
// Content-Security-Policy admits no inline code; the page says where the OpenAPI document is (data attributes).
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    // Swagger UI's default sends the document to validator.swagger.io for a badge: nothing leaves for another host.
    validatorUrl: null,
    oauth2RedirectUrl: window.location.origin + root.dataset.oauth2RedirectUrl,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
})();
