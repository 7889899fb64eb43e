-- An enrolment code's QR code is served again by the id in `qr_png_url` (GET .../qr.png), so the
-- code itself never appears in a URL a server logs: the code is kept sealed with the company's
-- key beside its digest (rows from before this migration have neither and have no QR code).
ALTER TABLE enrollment_codes ADD COLUMN id VARCHAR(36);
ALTER TABLE enrollment_codes ADD COLUMN sealed_code TEXT;
CREATE UNIQUE INDEX enrollment_codes_id ON enrollment_codes (id);
-- Who answers privacy questions for the company (a grievance officer where the law asks for
-- one), shown to its users in the console.
ALTER TABLE companies ADD COLUMN privacy_contact_name VARCHAR(200);
ALTER TABLE companies ADD COLUMN privacy_contact_email VARCHAR(320);
