// What the resale routes answer: a listing as its seller and the promoter read
// it, an order's listings with whether the drop takes new ones, and a drop's
// resale rules. The routes type their answers with these (`satisfies`);
// src/http/openapi-resale.ts renders them into the document. Built on first use. Pure.
import * as z from "zod";
import { instant, nullable } from "./answer-parts";
import { onFirstUse } from "../shared/on-first-use";

function build() {
	const Listing = z.strictObject({
		listingId: z.string(),
		dropId: z.string(),
		orderId: z.string(),
		ticket: z.string().meta({ description: "The listed ticket's code: refused at the gate and not transferable while the listing is open." }),
		state: z.enum(["open", "sold", "withdrawn", "returned", "cancelled"]).meta({
			description:
				"open: on offer (its unit back in the stock); sold: a buyer's paid order took it, the ticket is void and its seller refunded; withdrawn: taken back by its holder; returned: unsold when the drop closed, the seller's again; cancelled: the drop was cancelled or the payment refunded at the provider while it was open.",
		}),
		priceCents: z.int().meta({ description: "The ticket's face value: what its buyer pays, never more." }),
		feeCents: z.int().meta({ description: "The promoter's resale fee, fixed when listed." }),
		payoutCents: z.int().meta({ description: "What the seller is refunded once it is sold: face value less the fee." }),
		currency: z.string(),
		createdAt: instant(),
		endedAt: nullable(instant()).meta({ description: "When it was sold, withdrawn, returned or cancelled." }),
		refundId: nullable(z.string()).meta({ description: "The seller's refund, once sold (in the order's refunds)." }),
	});

	const ResaleRules = z.strictObject({
		dropId: z.string(),
		enabled: z.boolean().meta({ description: "Holders may list tickets (off until the promoter switches it on)." }),
		feeCents: z.int().meta({ description: "The fee per ticket resold, in cents (0: none)." }),
		feePercent: z.int().meta({ description: "Or the fee as a percent of the face value, rounded down (0: none)." }),
		updatedAt: nullable(instant()).meta({ description: "null: never changed (the default: off, no fee)." }),
	});

	const OrderListings = z.strictObject({
		orderId: z.string(),
		listings: z.array(Listing),
		resale: z.strictObject({
			open: z.boolean().meta({ description: "Whether a ticket of this order may be listed now (the promoter's switch, the drop not closed or cancelled, general admission)." }),
			feeCents: z.int(),
			feePercent: z.int(),
		}),
	});

	// The promoter sees which order bought a listing (the seller never does): a resale is one buyer's payment, then the seller's refund.
	const AdminListing = Listing.extend({
		buyerOrderId: nullable(z.string()).meta({ description: "The paid order that bought it, once sold (its seller's refund comes after it)." }),
	});

	const AdminOrderListings = z.strictObject({ orderId: z.string(), listings: z.array(AdminListing) });

	return { Listing, ResaleRules, OrderListings, AdminListing, AdminOrderListings };
}

/** The resale answer schemas by their names in the OpenAPI document. */
export const resaleAnswers = onFirstUse(build);

type Answer<K extends keyof ReturnType<typeof build>> = z.output<ReturnType<typeof build>[K]>;

export type ListingAnswer = Answer<"Listing">;
export type ResaleRulesAnswer = Answer<"ResaleRules">;
export type OrderListingsAnswer = Answer<"OrderListings">;
export type AdminOrderListingsAnswer = Answer<"AdminOrderListings">;
