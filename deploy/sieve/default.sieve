# Default rules for members with no script of their own.
require ["include"];

include :global "incoming_spam";
