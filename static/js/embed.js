/*
 * Patronage support block for a publisher's article page. Paste, under the article:
 *
 *   <script src="https://SUPPORT-SITE/static/js/embed.js" data-article="SLUG" async></script>
 *
 * It asks the support-block API of the site it was loaded from and renders the block
 * right after the script tag. No framework, no request anywhere else, nothing inline:
 * the DOM is built with textContent, styles come from embed.css (a <link>, loaded
 * once), so it works under a strict Content-Security-Policy that allows this site in
 * script-src, style-src and connect-src. Colours and shapes are CSS variables the
 * publisher may set on any ancestor: --patronage-accent, --patronage-accent-ink,
 * --patronage-background, --patronage-ink, --patronage-muted, --patronage-border,
 * --patronage-radius, --patronage-font, --patronage-heading-font.
 *
 * Optional attributes: data-reader-token="..." (a reader token for this page's origin,
 * sent as a bearer token instead of cookies), data-api="https://SUPPORT-SITE" (when the
 * script is served from elsewhere), data-target="#css-selector" (render there instead).
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || !script.src || !window.fetch) {
    return;
  }
  var slug = script.getAttribute("data-article") || "";
  var token = script.getAttribute("data-reader-token") || "";
  var apiOrigin = new URL(script.getAttribute("data-api") || script.src, document.baseURI).origin;
  var cssUrl = new URL("../css/embed.css", script.src).href;

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text) {
      node.textContent = text;
    }
    return node;
  }

  function absolute(url) {
    try {
      var parsed = new URL(url, apiOrigin);
      return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : "";
    } catch (error) {
      return "";
    }
  }

  function addStylesheet() {
    var links = document.querySelectorAll("link[data-patronage-embed]");
    if (links.length) {
      return;
    }
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = cssUrl;
    link.setAttribute("data-patronage-embed", "");
    document.head.appendChild(link);
  }

  // Member notes are HTML sanitised on the server (nh3); under Trusted Types they go
  // through a named policy, and are left out if the page does not allow one.
  var htmlPolicy = null;
  function sanitisedHtml(html) {
    if (window.trustedTypes && window.trustedTypes.createPolicy) {
      if (!htmlPolicy) {
        try {
          htmlPolicy = window.trustedTypes.createPolicy("patronage-embed", {
            createHTML: function (value) {
              return value;
            },
          });
        } catch (error) {
          return null;
        }
      }
      return htmlPolicy.createHTML(html);
    }
    return html;
  }

  function meter(campaign) {
    var box = element("div", "patronage-campaign");
    box.appendChild(element("p", "patronage-campaign-name", campaign.name));
    var bar = element("progress", "patronage-meter");
    bar.max = 100;
    bar.value = Math.max(0, Math.min(100, campaign.percent || 0));
    bar.textContent = campaign.percent + "%";
    box.appendChild(bar);
    var goal =
      campaign.goal_kind === "money" && campaign.currency
        ? (campaign.progress / 100).toLocaleString() + " of " + (campaign.goal / 100).toLocaleString() + " " + campaign.currency
        : campaign.progress.toLocaleString() + " of " + campaign.goal.toLocaleString();
    box.appendChild(element("p", "patronage-campaign-goal", goal + " (" + campaign.percent + "%)"));
    return box;
  }

  function extras(data) {
    var box = element("div", "patronage-extras");
    var notes = data.notes_html ? sanitisedHtml(data.notes_html) : null;
    if (notes) {
      var notesBox = element("div", "patronage-notes");
      notesBox.innerHTML = notes;
      box.appendChild(notesBox);
    }
    if (data.documents && data.documents.length) {
      var list = element("ul", "patronage-documents");
      data.documents.forEach(function (doc) {
        var href = absolute(doc.url);
        if (!href) {
          return;
        }
        var item = element("li");
        var link = element("a", "", doc.title);
        link.href = href;
        item.appendChild(link);
        list.appendChild(item);
      });
      box.appendChild(list);
    }
    return box.childNodes.length ? box : null;
  }

  function render(host, block) {
    host.textContent = "";
    host.className = "patronage-support patronage-" + block.variant;
    host.appendChild(element("h2", "patronage-heading", block.heading));
    if (block.text) {
      host.appendChild(element("p", "patronage-text", block.text));
    }
    if (block.campaign) {
      host.appendChild(meter(block.campaign));
    }
    if (block.links && block.links.length) {
      var actions = element("p", "patronage-actions");
      block.links.forEach(function (item, index) {
        var href = absolute(item.url);
        if (!href) {
          return;
        }
        var link = element("a", "patronage-button" + (index ? " patronage-secondary" : ""), item.label);
        link.href = href;
        link.setAttribute("data-kind", item.kind || "");
        actions.appendChild(link);
      });
      host.appendChild(actions);
    }
    if (block.variant === "member" && block.extras) {
      var more = extras(block.extras);
      if (more) {
        host.appendChild(more);
      }
    }
    host.hidden = false;
  }

  var host = element("aside", "patronage-support");
  host.hidden = true;
  host.setAttribute("aria-label", "Support our journalism");
  var target = script.getAttribute("data-target");
  var container = target ? document.querySelector(target) : null;
  if (container) {
    container.appendChild(host);
  } else {
    script.parentNode.insertBefore(host, script.nextSibling);
  }
  addStylesheet();

  var options = { mode: "cors", headers: { Accept: "application/json" } };
  if (token) {
    options.credentials = "omit";
    options.headers.Authorization = "Bearer " + token;
  } else {
    options.credentials = "include";
  }
  fetch(apiOrigin + "/api/support-block/" + encodeURIComponent(slug), options)
    .then(function (response) {
      if (!response.ok) {
        throw new Error("support block: HTTP " + response.status);
      }
      return response.json();
    })
    .then(function (block) {
      render(host, block);
    })
    .catch(function () {
      host.remove();
    });
})();
