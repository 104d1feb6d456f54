<?php
// PHPMailer (Debian's libphp-phpmailer) as a PHP app uses it: SMTP, one attachment.
// usage: php send.php PORT ATTACHMENT_FILE
use PHPMailer\PHPMailer\PHPMailer;

require '/usr/share/php/libphp-phpmailer/autoload.php';

[, $port, $attachment] = $argv;
$mail = new PHPMailer(true);
$mail->isSMTP();
$mail->Host = '127.0.0.1';
$mail->Port = (int) $port;
$mail->SMTPAuth = false;
$mail->SMTPAutoTLS = false;
$mail->setFrom('orders@example.com', 'Orders');
$mail->addAddress('you@example.org');
$mail->addCustomHeader('X-Gatekeeper-Purpose', 'transactional');
$mail->Subject = 'Order confirmed';
$mail->Body = 'Thank you for your order.';
$mail->addAttachment($attachment, 'order.pdf');
$mail->send();
echo "sent\n";
