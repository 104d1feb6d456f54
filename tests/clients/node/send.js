// nodemailer as a Node app uses it: a pooled transport, two messages, one with an attachment.
// usage: node send.js PORT ATTACHMENT_FILE
"use strict";
const nodemailer = require("nodemailer");

const [port, attachment] = process.argv.slice(2);
const transport = nodemailer.createTransport({
  host: "127.0.0.1",
  port: Number(port),
  secure: false,
  pool: true,
  maxConnections: 1,
});
const common = {
  from: "Shop <shop@example.com>",
  headers: { "X-Gatekeeper-Purpose": "transactional" },
};

async function main() {
  const sent = await Promise.all([
    transport.sendMail({
      ...common,
      to: "you@example.org",
      cc: "accounts@example.org",
      subject: "Your invoice",
      text: "Invoice attached.",
      attachments: [{ filename: "invoice.pdf", path: attachment }],
    }),
    transport.sendMail({ ...common, to: "you@example.org", subject: "Shipped", text: "On its way." }),
  ]);
  transport.close();
  for (const info of sent) console.log(info.response);
}

main().catch((err) => {
  console.error(err.response || err.message);
  process.exit(1);
});
