# Global rule incoming_spam: mail the antispam filter calls spam goes to Junk,
# flagged important so that Junk expiry never removes it unreviewed.
require ["fileinto", "imap4flags"];

if header :matches "X-Spam-Status" "Yes*" {
  fileinto :flags "\\Flagged" "Junk";
  stop;
}
