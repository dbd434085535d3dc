// The scripts' messages in the page's language. base.html renders the catalogue of the request's
// language as a JSON data block (#i18n-messages: English message -> translation, or a list of
// three plural forms one/few/many); the page scripts, loaded after this one, call
//   t("Answered by %(who)s", { who: "101" })       and       nt("%(num)s call", "%(num)s calls", n)
// A message the catalogue lacks stays English (a test keeps the Russian catalogue complete).
// A literal percent sign is written "%%" everywhere (templates, scripts, Python).
"use strict";

const I18N = (function () {
  const locale = document.documentElement.lang || "en";
  let messages = {};
  const block = document.getElementById("i18n-messages");
  if (block) {
    try {
      messages = JSON.parse(block.textContent) || {};
    } catch (_error) {
      messages = {}; // a broken catalogue must not break the page: English it is
    }
  }

  // "%(name)s" takes values.name; "%%" is a literal percent sign (as in the templates' _()).
  function fill(text, values) {
    return text.replace(/%%|%\((\w+)\)s/g, function (whole, name) {
      if (whole === "%%") {
        return "%";
      }
      return values && Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
    });
  }

  // Which plural form n takes: English one/other; Russian one (1, 21), few (2-4, 22), many (5-20, 11).
  function pluralIndex(n) {
    if (locale === "ru") {
      if (n % 10 === 1 && n % 100 !== 11) {
        return 0;
      }
      if (n % 10 >= 2 && n % 10 <= 4 && !(n % 100 >= 12 && n % 100 <= 14)) {
        return 1;
      }
      return 2;
    }
    return n === 1 ? 0 : 1;
  }

  function t(message, values) {
    const found = messages[message];
    return fill(typeof found === "string" && found ? found : message, values);
  }

  function nt(singular, plural, n, values) {
    const forms = messages[singular];
    let text = n === 1 ? singular : plural;
    if (Array.isArray(forms) && forms.length) {
      text = forms[Math.min(pluralIndex(n), forms.length - 1)];
    }
    return fill(text, Object.assign({ num: n }, values));
  }

  return Object.freeze({ locale: locale, t: t, nt: nt });
})();
