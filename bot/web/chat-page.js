/* The demo chat page's widget options (a file, not inline: the page's CSP runs no inline code). */
window.SupportScopeChat = {container: "#chat"};
