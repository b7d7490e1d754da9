// Every answer the API gives, by its name in the OpenAPI document: the fan's
// (fan-answers.ts), the promoter's (admin-answers.ts, audit-answers.ts), the
// engine's own (engine-answers.ts) and the error body every refusal carries
// (answer-parts.ts), the gate's (gate-answers.ts), transfers' (transfer-answers.ts) and resale's (resale-answers.ts). src/http/openapi.ts renders this table into the document's
// components (and registrations.ts: a registered window's registration and draw; turn-notices.ts: a fan's turn mail); routes import the type of an answer from the file that holds it.
// Built on the first request for the document, never at start-up. Pure.
import { adminAnswers } from "./admin-answers";
import { answerParts } from "./answer-parts";
import { auditAnswers } from "./audit-answers";
import { engineAnswers } from "./engine-answers";
import { fanAnswers } from "./fan-answers";
import { gateAnswers } from "./gate-answers";
import { queueAnswers } from "./queue-answers";
import { transferAnswers } from "./transfer-answers";
import { registrationAnswers } from "./registrations";
import { resaleAnswers } from "./resale-answers";
import { turnNoticeAnswers } from "./turn-notices";
import { onFirstUse } from "../shared/on-first-use";

/** Every answer's schema by its name in the OpenAPI document. */
export const answerSchemas = onFirstUse(() => ({ ApiError: answerParts().ApiError, ...engineAnswers(), ...adminAnswers(), ...auditAnswers(), ...queueAnswers(), ...fanAnswers(), ...gateAnswers(), ...transferAnswers(), ...registrationAnswers(), ...resaleAnswers(), ...turnNoticeAnswers() }));

export type AnswerSchemas = ReturnType<typeof answerSchemas>;
