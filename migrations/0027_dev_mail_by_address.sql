-- The dev mailbox read by address (GET /api/admin/dev/mail?to=): a local load run
-- reads each fan's verification code this way, thousands of addresses at once.
CREATE INDEX dev_mail_by_address ON dev_mail (to_address);
