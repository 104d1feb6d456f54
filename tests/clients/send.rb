# Ruby's Net::SMTP as a cron script uses it: a hand-made message from a dotless sender.
# usage: ruby send.rb PORT
require "net/smtp"

port = Integer(ARGV.fetch(0))
message = <<~MAIL.gsub("\n", "\r\n")
  From: Backup <cron@myhost>
  To: ops@example.org, admin@example.org
  Subject: Nightly backup done
  X-Gatekeeper-Purpose: transactional

  All 3 volumes backed up.
MAIL
Net::SMTP.start("127.0.0.1", port, "client.test") do |smtp|
  puts smtp.send_message(message, "cron@myhost", ["ops@example.org", "admin@example.org"]).string
end
