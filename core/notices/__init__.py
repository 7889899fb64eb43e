"""What the product tells people: the console's notifications and their mails (`notifications`),
the subscription's lifecycle notices (`lifecycle`), the daily and weekly digests (`digests`) and
the operator's policy versions with their acceptance (`policies`)."""
