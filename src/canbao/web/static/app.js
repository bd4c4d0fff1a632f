/* Canbao staff workspace: the page's only script (the CSP is script-src 'self').
 * Plain ES2019, no build step. Needs /static/vendor/htmx.min.js (htmx 4) and
 * /static/vendor/echarts.min.js loaded before it; see HTMX4-NOTES.md.
 *  (a) X-CSRF-Token header from <meta name="csrf-token"> on every same-origin htmx request;
 *  (b) ECharts on every .chart[data-option] (JSON), on load and in swapped content; resize;
 *  (c) form[data-confirm] / submit button[data-confirm]: confirm() before submitting;
 *  (d) 4xx/5xx answers to htmx requests go into #flash (unless the element asks otherwise).
 */
(function () {
  "use strict";

  var CJK_FONTS = '"Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif';

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : null;
  }

  function sameOrigin(url) {
    try {
      return new URL(url, location.href).origin === location.origin;
    } catch (e) {
      return false;
    }
  }

  /* ---- (b) charts ---------------------------------------------------------------- */

  var charts = [];

  function initCharts(root) {
    if (!window.echarts || !root || !root.querySelectorAll) return;
    var els = Array.prototype.slice.call(root.querySelectorAll(".chart[data-option]"));
    if (root.matches && root.matches(".chart[data-option]")) els.unshift(root);
    els.forEach(function (el) {
      if (echarts.getInstanceByDom(el)) return;
      var option;
      try {
        option = JSON.parse(el.dataset.option);
      } catch (e) {
        el.textContent = "图表数据无法解析";
        return;
      }
      if (!option.textStyle) option.textStyle = { fontFamily: CJK_FONTS };
      // ECharts' HTML tooltip writes style="" attributes, which style-src 'self' blocks:
      // draw the tooltip on the canvas instead.
      if (option.tooltip && !Array.isArray(option.tooltip) && !option.tooltip.renderMode) {
        option.tooltip.renderMode = "richText";
      }
      var chart = echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(option);
      charts.push(chart);
    });
  }

  function pruneCharts() {
    charts = charts.filter(function (chart) {
      if (chart.isDisposed()) return false;
      if (!chart.getDom().isConnected) {
        chart.dispose();
        return false;
      }
      return true;
    });
  }

  var resizeQueued = false;
  window.addEventListener("resize", function () {
    if (resizeQueued) return;
    resizeQueued = true;
    window.requestAnimationFrame(function () {
      resizeQueued = false;
      pruneCharts();
      charts.forEach(function (chart) {
        chart.resize();
      });
    });
  });

  /* ---- (c) confirm before submit ------------------------------------------------- */

  // Capture phase on document: runs before htmx's own submit listener on the form, so a
  // "cancel" stops both the browser's submit and an hx-post. (htmx forms can use hx-confirm.)
  document.addEventListener(
    "submit",
    function (evt) {
      var form = evt.target;
      var submitter = evt.submitter;
      var message =
        (submitter && submitter.getAttribute("data-confirm")) ||
        (form && form.getAttribute && form.getAttribute("data-confirm"));
      if (message && !window.confirm(message)) {
        evt.preventDefault();
        evt.stopPropagation();
      }
    },
    true
  );

  /* ---- (d) error answers into #flash --------------------------------------------- */

  function flashBox() {
    return document.getElementById("flash");
  }

  function escapeHtml(text) {
    var div = document.createElement("div");
    div.textContent = text;
    return div.innerHTML;
  }

  function showFlashError(message) {
    var flash = flashBox();
    if (!flash) return;
    var div = document.createElement("div");
    div.className = "error";
    div.setAttribute("role", "alert");
    div.textContent = message;
    flash.textContent = "";
    flash.appendChild(div);
    flash.dataset.transient = "1";
  }

  // The element keeps the error where htmx would put it when it (or an ancestor) has
  // data-error="inplace", or when the element itself sets hx-status:... rules.
  function handlesOwnErrors(elt) {
    if (!elt || !elt.closest) return false;
    if (elt.closest('[data-error="inplace"]')) return true;
    for (var i = 0; i < elt.attributes.length; i++) {
      if (/^(data-)?hx-status/.test(elt.attributes[i].name)) return true;
    }
    return false;
  }

  /* ---- htmx hooks ------------------------------------------------------------------ */

  // (a) CSRF header. htmx 4: the request lives in evt.detail.ctx.request.
  document.addEventListener("htmx:config:request", function (evt) {
    var request = evt.detail.ctx.request;
    var token = csrfToken();
    if (token && sameOrigin(request.action || location.href)) {
      request.headers["X-CSRF-Token"] = token;
    }
  });

  // A new request clears an error that this script (not the server's page) put up.
  document.addEventListener("htmx:before:request", function () {
    var flash = flashBox();
    if (flash && flash.dataset.transient) {
      flash.textContent = "";
      delete flash.dataset.transient;
    }
  });

  // (d) htmx 4 swaps 4xx/5xx answers like 200s (only 204/304 are not swapped). Fired after
  // the body is read and before hx-status rules, HX-Retarget/HX-Reswap and the swap.
  document.addEventListener("htmx:response:error", function (evt) {
    var ctx = evt.detail.ctx;
    var flash = flashBox();
    if (!flash || handlesOwnErrors(ctx.sourceElement)) return;
    var text = (ctx.text || "").trim();
    var status = ctx.response ? ctx.response.status : "";
    if (!text) {
      ctx.text = '<div class="error" role="alert">请求失败（HTTP ' + status + "），请稍后重试。</div>";
    } else if (text.charAt(0) !== "<") {
      ctx.text = '<div class="error" role="alert">' + escapeHtml(text.slice(0, 500)) + "</div>";
    } else if (/<html[\s>]/i.test(text)) {
      ctx.select = ".error, [role=alert]"; // a whole error page: show only its message
    } else {
      ctx.select = null;
    }
    ctx.target = flash;
    ctx.swap = "innerHTML";
    ctx.push = "false"; // an error never changes the address bar
    ctx.replace = "false";
    flash.dataset.transient = "1";
  });

  // Network failure or timeout: no answer to show, so say so.
  document.addEventListener("htmx:error", function (evt) {
    var ctx = evt.detail.ctx;
    if (!ctx || !ctx.request) return; // not a request error (e.g. a bad hx-target)
    if (ctx.response) return; // the server answered; htmx:response:error dealt with it
    var timedOut = ctx.request.signal && ctx.request.signal.reason === "timeout";
    showFlashError(timedOut ? "请求超时，请稍后重试。" : "无法连接服务器，请检查网络后重试。");
  });

  // New content from htmx (also fired once for document.body on page load).
  document.addEventListener("htmx:after:process", function (evt) {
    initCharts(evt.target);
  });
  document.addEventListener("htmx:after:swap", function () {
    pruneCharts();
    initCharts(document);
  });

  function ready() {
    initCharts(document);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
